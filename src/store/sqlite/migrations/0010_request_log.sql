-- An account's resources of one kind, newest first (the console's listings). The
-- console's request log lives in a file of its own beside this one (see
-- store::sqlite::log_file).
CREATE INDEX resources_by_owner ON resources (kind, user_id, seq);
