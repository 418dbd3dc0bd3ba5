#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
//! The container image (#17, "test workbench", item 7): `container/build.sh` builds
//! the FROM scratch image of a static caja, and the image serves as README's "Run it
//! as a container" says. A mounted seed's token answers at once; the store lands in the
//! mounted /data directory, owned by the image's non-root user, and outlives the
//! container; `podman stop` stops caja (PID 1) gracefully.
//!
//! Ignored by default: it builds a static release binary (minutes on two cores) and an
//! image. `.ci/run` installs podman and runs it with `cargo test --test container --
//! --ignored`. Without podman it fails, saying so; it never skips.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

const TOKEN: &str = "TEST-container-token-424242";
const USER_ID: i64 = 424242;

/// podman, with the global flags this project's machines need (a sandbox without
/// systemd cgroups).
fn podman() -> Command {
    let mut podman = Command::new("podman");
    podman.arg("--cgroup-manager=cgroupfs");
    podman
}

/// `podman run -d` with the flags this project's machines need (runc; rlimits the
/// sandbox allows; host networking, so caja listens on a free port of ours).
const RUN_FLAGS: &[&str] =
    &["--runtime=runc", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096", "--network=host"];

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Run a podman command to completion; panic, with its output, when it fails.
fn run(args: &[&str]) -> String {
    let output = podman().args(args).output().unwrap_or_else(|e| panic!("cannot run podman {args:?}: {e}"));
    assert!(output.status.success(), "podman {args:?} failed ({}):\n{}", output.status, text(&output));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn require(tool: &str, args: &[&str]) {
    match Command::new(tool).args(args).stdout(Stdio::null()).stderr(Stdio::null()).status() {
        Ok(status) if status.success() => {}
        outcome => panic!(
            "`{tool}` is required by the container test and is not usable ({outcome:?}). Install it \
             (Debian: apt-get install podman runc; .ci/run does) — this test never skips."
        ),
    }
}

/// A container that is removed, whatever happens; its logs are printed when the test
/// fails.
struct Container {
    name: String,
}

impl Container {
    /// `podman run -d` of `image` with `/data` bound to `data` and `/seed.json` to
    /// `seed`, listening on 127.0.0.1:`port` (of the host: host networking).
    fn start(name: &str, image: &str, data: &Path, seed: &Path, port: u16) -> Container {
        let _ = podman().args(["rm", "-f", name]).output(); // a leftover of a killed run
        let container = Container { name: name.to_owned() };
        let data = format!("{}:/data", data.display());
        let seed = format!("{}:/seed.json:ro", seed.display());
        let listen = format!("CAJA_LISTEN=127.0.0.1:{port}");
        let mut args = vec!["run", "-d", "--name", name];
        args.extend_from_slice(RUN_FLAGS);
        args.extend_from_slice(&["-v", &data, "-v", &seed, "-e", &listen, image, "serve", "--seed", "/seed.json"]);
        run(&args);
        container
    }

    fn logs(&self) -> String {
        podman().args(["logs", &self.name]).output().map(|o| text(&o)).unwrap_or_else(|e| e.to_string())
    }

    fn running(&self) -> bool {
        run(&["inspect", "--format", "{{.State.Running}}", &self.name]) == "true"
    }

    /// Wait until caja answers `GET /health`; panic early if the container exited.
    async fn wait_healthy(&self, client: &reqwest::Client, base: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(answer) = client.get(format!("{base}/health")).send().await {
                if answer.status() == StatusCode::OK {
                    return;
                }
            }
            assert!(self.running(), "the container {} exited before answering /health", self.name);
            assert!(Instant::now() < deadline, "caja in {} did not answer {base}/health within 30 s", self.name);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `podman stop`: SIGTERM to caja, which must stop by itself (exit code 0, "caja
    /// stopped") well before podman's 10 s fallback to SIGKILL.
    fn stop_gracefully(&self) {
        let started = Instant::now();
        run(&["stop", &self.name]);
        let took = started.elapsed();
        let code = run(&["inspect", "--format", "{{.State.ExitCode}}", &self.name]);
        assert_eq!(code, "0", "caja's exit code after podman stop");
        assert!(took < Duration::from_secs(8), "podman stop took {took:?}: caja ignored SIGTERM");
        assert!(self.logs().contains("caja stopped"), "caja did not stop gracefully:\n{}", self.logs());
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- podman logs {}:\n{}----", self.name, self.logs());
        }
        let _ = podman().args(["rm", "-f", &self.name]).output();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
#[ignore = "builds a static binary and a podman image; run by .ci/run"]
async fn the_image_serves_a_seeded_token_and_keeps_its_store_in_the_volume() {
    require("podman", &["--version"]);
    require("runc", &["--version"]);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));

    // Build: the static binary and the image, as README says.
    let started = Instant::now();
    let built = Command::new(root.join("container/build.sh"))
        .current_dir(root)
        .stderr(Stdio::inherit())
        .output()
        .expect("cannot run container/build.sh");
    assert!(built.status.success(), "container/build.sh failed ({}):\n{}", built.status, text(&built));
    let image = String::from_utf8_lossy(&built.stdout).lines().last().expect("build.sh printed no tag").to_owned();
    let size: u64 = run(&["image", "inspect", "--format", "{{.Size}}", &image]).parse().unwrap();
    eprintln!("built {image} in {:.0?}: {:.1} MB", started.elapsed(), size as f64 / 1e6);
    assert_eq!(run(&["image", "inspect", "--format", "{{.Config.User}}", &image]), "65532:65532");

    // A seed file and an empty data directory. caja runs as uid 65532: the seed must be
    // readable and the directory writable by it (README: chown 65532:65532 the
    // directory; here, where the test's user may be anyone, mode 0777).
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.json");
    let seed_json =
        json!({ "accounts": [{ "user_id": USER_ID, "site_id": "MLB", "access_tokens": [TOKEN] }] }).to_string();
    std::fs::write(&seed, seed_json).unwrap();
    std::fs::set_permissions(&seed, std::fs::Permissions::from_mode(0o644)).unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o777)).unwrap();

    let name = format!("caja-container-test-{}", std::process::id());
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");

    // First run: the seed's token works at once.
    let customer_id = {
        let container = Container::start(&name, &image, &data, &seed, port);
        container.wait_healthy(&client, &base).await;
        let created = client
            .post(format!("{base}/v1/customers"))
            .bearer_auth(TOKEN)
            .json(&json!({ "email": "container@example.com", "first_name": "Ana" }))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED, "{:?}", created.text().await);
        let customer: Value = created.json().await.unwrap();
        assert_eq!(customer["email"], "container@example.com", "{customer}");
        assert_eq!(customer["user_id"], USER_ID, "{customer}");
        assert_eq!(customer["status"], "active", "{customer}");

        // The store is in the mounted directory, written by the image's user (uid 65532
        // on the host too, unless podman is rootless and maps it).
        let rootful = run(&["info", "--format", "{{.Host.Security.Rootless}}"]) == "false";
        for file in ["caja.db", "caja.db-requests"] {
            let path = data.join(file);
            let meta = std::fs::metadata(&path)
                .unwrap_or_else(|e| panic!("{} is not in the mounted /data: {e}", path.display()));
            assert!(meta.len() > 0, "{} is empty", path.display());
            if rootful {
                assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), 65532, "{file} is not owned by uid 65532");
            }
        }
        container.stop_gracefully();
        customer["id"].as_str().unwrap().to_owned()
    };

    // Second run on the same directory, the same seed applied again: the customer is
    // still there.
    let container = Container::start(&name, &image, &data, &seed, port);
    container.wait_healthy(&client, &base).await;
    let read = client.get(format!("{base}/v1/customers/{customer_id}")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(read.status(), StatusCode::OK, "{:?}", read.text().await);
    let customer: Value = read.json().await.unwrap();
    assert_eq!(customer["email"], "container@example.com", "{customer}");
    assert!(container.logs().contains(r#"seed applied: {"accounts_created":0,"#), "{}", container.logs());
    container.stop_gracefully();
}
