//! QR codes as base64 PNG images (a Pix payment's `qr_code_base64`): `qrcode` makes
//! the modules, `png` writes them, one black or white pixel per 4×4 block.

use base64::Engine;

/// Pixels per QR module, and the quiet zone's width in modules.
const SCALE: usize = 4;
const QUIET_MODULES: usize = 4;

/// The QR code of `text`, as a base64-encoded grayscale PNG.
pub fn png_base64(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let modules = code.width();
    let dark = code.to_colors();
    let side = (modules + 2 * QUIET_MODULES) * SCALE;
    let mut pixels = vec![255_u8; side * side];
    for (i, color) in dark.iter().enumerate() {
        if *color != qrcode::Color::Dark {
            continue;
        }
        let (x, y) = ((i % modules + QUIET_MODULES) * SCALE, (i / modules + QUIET_MODULES) * SCALE);
        for dy in 0..SCALE {
            let row = (y + dy) * side;
            pixels[row + x..row + x + SCALE].fill(0);
        }
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, side as u32, side as u32);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().ok()?;
        writer.write_image_data(&pixels).ok()?;
    }
    Some(base64::engine::general_purpose::STANDARD.encode(out))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_png_comes_out() {
        let encoded = super::png_base64("00020126580014br.gov.bcb.pix").expect("png");
        let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, encoded).expect("base64");
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    }
}
