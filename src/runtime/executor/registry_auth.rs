//! The user's registry credentials, as the `docker` CLI finds them: the engine never reads
//! `~/.docker/config.json` itself, so a pull must send them. `auths[HOST].auth` (base64
//! `user:password`) first, else a credential helper (`credHelpers[HOST]`, else `credsStore`)
//! asked with `docker-credential-NAME get`.

use base64::Engine as _;
use bollard::auth::DockerCredentials;
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Docker Hub's key in `auths`.
const DOCKER_HUB: &str = "https://index.docker.io/v1/";

/// The registry host of an image reference (`docker.io` when it names none).
pub fn registry_host(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first
        }
        _ => "docker.io",
    }
}

fn config_path() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("DOCKER_CONFIG") {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var("HOME")
        .ok()
        .map(|h| PathBuf::from(h).join(".docker").join("config.json"))
}

/// Credentials for pulling `image`, if the user has any for its registry.
pub fn credentials_for(image: &str) -> Option<DockerCredentials> {
    let config: Value = serde_json::from_slice(&std::fs::read(config_path()?).ok()?).ok()?;
    from_config(&config, registry_host(image), run_helper)
}

/// Looks `host` up in a parsed `config.json`; `helper(name, server)` runs a credential helper.
pub fn from_config(
    config: &Value,
    host: &str,
    helper: impl Fn(&str, &str) -> Option<(String, String)>,
) -> Option<DockerCredentials> {
    let keys: Vec<String> = if host == "docker.io" {
        vec![
            DOCKER_HUB.into(),
            "docker.io".into(),
            "index.docker.io".into(),
        ]
    } else {
        vec![host.into(), format!("https://{host}")]
    };
    for k in &keys {
        if let Some(auth) = config["auths"][k]["auth"].as_str() {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth)
                .ok()?;
            let text = String::from_utf8(decoded).ok()?;
            let (user, pass) = text.split_once(':')?;
            return Some(DockerCredentials {
                username: Some(user.into()),
                password: Some(pass.into()),
                serveraddress: Some(k.clone()),
                ..Default::default()
            });
        }
    }
    let helper_name = keys
        .iter()
        .find_map(|k| config["credHelpers"][k].as_str())
        .or_else(|| config["credsStore"].as_str())?;
    let server = if host == "docker.io" {
        DOCKER_HUB
    } else {
        host
    };
    let (username, secret) = helper(helper_name, server)?;
    // A helper's `<token>` user means the secret is an identity token.
    Some(if username == "<token>" {
        DockerCredentials {
            identitytoken: Some(secret),
            serveraddress: Some(server.into()),
            ..Default::default()
        }
    } else {
        DockerCredentials {
            username: Some(username),
            password: Some(secret),
            serveraddress: Some(server.into()),
            ..Default::default()
        }
    })
}

/// `docker-credential-NAME get` with the server on stdin; `{Username, Secret}` on stdout.
fn run_helper(name: &str, server: &str) -> Option<(String, String)> {
    let mut child = Command::new(format!("docker-credential-{name}"))
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(server.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    if !out.status.success() {
        return None;
    }
    let v: Value = serde_json::from_slice(&out.stdout).ok()?;
    Some((
        v["Username"].as_str()?.to_string(),
        v["Secret"].as_str()?.to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hosts_of_image_references() {
        assert_eq!(registry_host("busybox"), "docker.io");
        assert_eq!(registry_host("library/busybox:1"), "docker.io");
        assert_eq!(
            registry_host("us-docker.pkg.dev/cloudrun/container/job"),
            "us-docker.pkg.dev"
        );
        assert_eq!(registry_host("localhost:5000/x"), "localhost:5000");
    }

    #[test]
    fn auths_then_helpers() {
        let cfg = json!({
            "auths": {"https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNz"}},
            "credHelpers": {"us-docker.pkg.dev": "gcloud"},
            "credsStore": "desktop"
        });
        let hub = from_config(&cfg, "docker.io", |_, _| None).unwrap();
        assert_eq!(hub.username.as_deref(), Some("user"));
        assert_eq!(hub.password.as_deref(), Some("pass"));
        let asked = std::cell::RefCell::new(Vec::new());
        let gar = from_config(&cfg, "us-docker.pkg.dev", |h, s| {
            asked.borrow_mut().push((h.to_string(), s.to_string()));
            Some(("oauth2accesstoken".into(), "tok".into()))
        })
        .unwrap();
        assert_eq!(gar.password.as_deref(), Some("tok"));
        assert_eq!(
            asked.borrow()[0],
            ("gcloud".into(), "us-docker.pkg.dev".into())
        );
        let other = from_config(&cfg, "ghcr.io", |h, _| Some((h.into(), "s".into()))).unwrap();
        assert_eq!(other.username.as_deref(), Some("desktop"));
        assert!(from_config(&json!({}), "ghcr.io", |_, _| None).is_none());
    }
}
