//! Cloud Storage rules shared by the planner and the local runtime.

/// Bucket names: 3-63 of `[a-z0-9._-]`, starting and ending with a letter or digit.
pub fn check_bucket_name(name: &str) -> Result<(), String> {
    let ok = (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!("bucket name {name:?} must be 3-63 lowercase letters, digits, '.', '_' or '-', starting and ending with a letter or digit"))
    }
}
