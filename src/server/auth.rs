//! The bearer token every route requires: created once per data dir
//! (32 random bytes, hex), kept in `<data_dir>/server-token` readable only
//! by its owner, and compared in constant time on each request.
//!
//! The check is an axum middleware; it runs on the connection's task and
//! holds no locks.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::error::{ApiError, Result, ServerError};

/// File name of the token inside the data dir.
pub const TOKEN_FILE: &str = "server-token";

/// Where the token of `data_dir` lives.
pub fn token_path(data_dir: &Path) -> PathBuf {
    data_dir.join(TOKEN_FILE)
}

/// The token stored in `data_dir`, created (mode 0600) when there is none.
///
/// # Errors
/// `Token` when the file cannot be read or written, `BadToken` when it
/// holds nothing usable, `Random` when the OS gives no randomness.
pub fn load_or_create_token(data_dir: &Path) -> Result<String> {
    let path = token_path(data_dir);
    let io = |source| ServerError::Token {
        path: path.clone(),
        source,
    };
    // The data dir is Omnidesk's own: 0700, also when an older version
    // left it readable.
    crate::private_file::private_dir(data_dir).map_err(io)?;
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            crate::private_file::restrict(&path).map_err(io)?;
            return validate(&path, text);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let token = new_token()?;
    // Written whole to a unique 0600 temp file, then linked into place
    // only if no token exists yet: a crash never leaves an empty token,
    // and two processes starting at once agree on one.
    let mut tmp = tempfile::Builder::new()
        .prefix(".server-token-")
        .tempfile_in(data_dir)
        .map_err(io)?;
    tmp.write_all(format!("{token}\n").as_bytes()).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    match tmp.persist_noclobber(&path) {
        Ok(_) => Ok(token),
        // Another process created it first: use theirs.
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
            validate(&path, std::fs::read_to_string(&path).map_err(io)?)
        }
        Err(e) => Err(io(e.error)),
    }
}

fn validate(path: &Path, text: String) -> Result<String> {
    let token = text.trim();
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ServerError::BadToken { path: path.into() });
    }
    Ok(token.to_string())
}

/// 32 bytes from the OS generator, as 64 hex characters.
fn new_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ServerError::Random(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether an `Authorization` header value carries `token`. The comparison
/// takes the same time wherever the first wrong byte is.
pub(crate) fn authorized(header_value: Option<&[u8]>, token: &str) -> bool {
    let Some(value) = header_value else {
        return false;
    };
    let Some(scheme) = value.get(..7) else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return false;
    }
    let presented = value[7..].trim_ascii();
    presented.ct_eq(token.as_bytes()).into()
}

/// Middleware: 401 unless the request carries the token.
pub(crate) async fn require_token(
    State(token): State<Arc<str>>,
    request: Request,
    next: Next,
) -> Response {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    if authorized(value, &token) {
        next.run(request).await
    } else {
        ApiError::unauthorized().into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_created_once_with_owner_only_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("nested");
        let a = load_or_create_token(&data).unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        let b = load_or_create_token(&data).unwrap();
        assert_eq!(a, b, "the stored token is reused");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(token_path(&data))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let other = tempfile::tempdir().unwrap();
        assert_ne!(a, load_or_create_token(other.path()).unwrap());
        #[cfg(unix)]
        {
            assert_eq!(crate::private_file::mode(&data).unwrap(), 0o700);
            let names: Vec<_> = std::fs::read_dir(&data)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(names, [TOKEN_FILE], "no temp file is left");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_readable_token_of_an_older_version_is_made_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = token_path(dir.path());
        std::fs::write(&path, "abc\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(load_or_create_token(dir.path()).unwrap(), "abc");
        assert_eq!(crate::private_file::mode(&path).unwrap(), 0o600);
        assert_eq!(crate::private_file::mode(dir.path()).unwrap(), 0o700);
    }

    #[test]
    fn an_empty_token_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(token_path(dir.path()), "  \n").unwrap();
        assert!(matches!(
            load_or_create_token(dir.path()),
            Err(ServerError::BadToken { .. })
        ));
    }

    #[test]
    fn only_the_exact_bearer_token_passes() {
        assert!(authorized(Some(b"Bearer abc"), "abc"));
        assert!(authorized(Some(b"bearer abc "), "abc"));
        assert!(!authorized(Some(b"Bearer abd"), "abc"));
        assert!(!authorized(Some(b"Bearer ab"), "abc"));
        assert!(!authorized(Some(b"Basic abc"), "abc"));
        assert!(!authorized(Some(b"abc"), "abc"));
        assert!(!authorized(None, "abc"));
    }
}
