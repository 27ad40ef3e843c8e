//! Store URLs: what kind of store, and where, parsed once; and the
//! password kept out of everything printed.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// A store's URL, parsed once: which kind of store, and where. Its `Debug`
/// and `Display` mask the password.
#[derive(Clone, PartialEq, Eq)]
pub enum StorageUrl {
    /// A SQLite file: `sqlite://PATH`, or a plain path.
    Sqlite(PathBuf),
    /// A MariaDB or MySQL database:
    /// `mysql://USER:PASSWORD@HOST:PORT/DATABASE` (or `mariadb://`).
    Mysql(String),
    /// A PostgreSQL database:
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (or `postgresql://`).
    Postgres(String),
    /// An etcd cluster: `etcd://HOST:PORT[,HOST:PORT...]/PREFIX`.
    Etcd(String),
}

impl StorageUrl {
    /// Parse a store URL. An unknown scheme is refused, and so is a SQLite
    /// path whose data could not outlive the process (see
    /// [`Error::Refused`]).
    pub fn parse(url: &str) -> Result<StorageUrl> {
        match url.split_once("://") {
            Some(("mysql", _)) => Ok(StorageUrl::Mysql(url.into())),
            Some(("mariadb", _)) => Ok(StorageUrl::Mysql(url.replacen("mariadb://", "mysql://", 1))),
            Some(("postgres" | "postgresql", _)) => Ok(StorageUrl::Postgres(url.into())),
            Some(("sqlite", path)) => StorageUrl::sqlite(path),
            Some(("etcd", _)) => Ok(StorageUrl::Etcd(url.into())),
            Some((scheme, _)) => Err(Error::InvalidUrl(format!(
                "storage URL scheme `{scheme}://` is not supported; use sqlite://PATH, \
                 mysql://USER:PASSWORD@HOST:PORT/DATABASE, postgres://USER:PASSWORD@HOST:PORT/DATABASE \
                 or etcd://HOST:PORT[,HOST:PORT...]/PREFIX"
            ))),
            None => StorageUrl::sqlite(url),
        }
    }

    fn sqlite(path: &str) -> Result<StorageUrl> {
        crate::sqlite::lasting(path).map_err(Error::Refused)?;
        Ok(StorageUrl::Sqlite(path.into()))
    }

    /// The same URL with a relative SQLite path taken from `base`.
    pub fn relative_to(self, base: &Path) -> StorageUrl {
        match self {
            StorageUrl::Sqlite(path) if path.is_relative() => StorageUrl::Sqlite(base.join(path)),
            other => other,
        }
    }

    /// The SQLite file, for a SQLite store.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            StorageUrl::Sqlite(path) => Some(path),
            _ => None,
        }
    }
}

impl std::str::FromStr for StorageUrl {
    type Err = Error;
    fn from_str(url: &str) -> Result<StorageUrl> {
        StorageUrl::parse(url)
    }
}

impl std::fmt::Display for StorageUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            StorageUrl::Mysql(url) | StorageUrl::Postgres(url) | StorageUrl::Etcd(url) => {
                f.write_str(&redact(url))
            }
        }
    }
}

impl std::fmt::Debug for StorageUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StorageUrl({self})")
    }
}

/// `scheme://user:PASSWORD@host/...` with the password masked: what this
/// code ever prints of a storage URL.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, hostport)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{hostport}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// `message` with `url` redacted and its password's every form masked.
pub(crate) fn scrub(url: &str, message: &str) -> String {
    passwords(url)
        .iter()
        .fold(message.replace(url, &redact(url)), |m, secret| {
            m.replace(secret.as_str(), "***")
        })
}

/// The password in a URL, as written and percent-decoded: the forms a
/// message could repeat, to scrub.
pub(crate) fn passwords(url: &str) -> Vec<String> {
    let Some(pass) = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|authority| authority.rsplit_once('@'))
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, pass)| pass)
        .filter(|pass| !pass.is_empty())
    else {
        return Vec::new();
    };
    let decoded = percent_decoded(pass);
    let mut forms = vec![pass.to_string()];
    if decoded != pass {
        forms.push(decoded);
    }
    forms
}

/// `s` with its `%XX` escapes decoded (bytes that are not UTF-8 replaced).
pub(crate) fn percent_decoded(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
