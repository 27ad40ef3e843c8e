//! Store URLs: what kind of store, and where, parsed once; and the
//! password kept out of everything printed.

use crate::error::{Error, Result};
use crate::server_tls::{Tls, Words};
use std::path::{Path, PathBuf};

/// A store's URL, parsed once: which kind of store, and where. Its `Debug`
/// and `Display` mask the password, and two spellings of one store are
/// equal (`mariadb://` and `mysql://`, a host's case, a default port
/// written or not, `.` in a path).
#[derive(Clone)]
pub enum StorageUrl {
    /// A SQLite file: `sqlite://PATH`, or a plain path.
    Sqlite(PathBuf),
    /// A MariaDB or MySQL database:
    /// `mysql://USER:PASSWORD@HOST:PORT/DATABASE` (or `mariadb://`).
    Mysql(ServerUrl),
    /// A PostgreSQL database:
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (or `postgresql://`).
    Postgres(ServerUrl),
    /// An etcd cluster: `etcd://HOST:PORT[,HOST:PORT...]/PREFIX`.
    Etcd(EtcdUrl),
}

/// The forms of the URLs, for messages.
const MYSQL_FORM: &str = "mysql://USER:PASSWORD@HOST:PORT/DATABASE";
const POSTGRES_FORM: &str = "postgres://USER:PASSWORD@HOST:PORT/DATABASE";
const ETCD_FORM: &str = "etcd://HOST:PORT[,HOST:PORT...]/PREFIX";

impl StorageUrl {
    /// Parse a store URL. An unknown scheme or a URL not of its scheme's
    /// form is [`Error::InvalidUrl`], saying what is wrong and the form; a
    /// SQLite path whose data could not outlive the process is
    /// [`Error::Refused`].
    pub fn parse(url: &str) -> Result<StorageUrl> {
        match url.split_once("://") {
            Some(("mysql" | "mariadb", _)) => {
                let url = url.replacen("mariadb://", "mysql://", 1);
                Ok(StorageUrl::Mysql(ServerUrl::parse(&url, &MYSQL)?))
            }
            Some(("postgres" | "postgresql", _)) => {
                Ok(StorageUrl::Postgres(ServerUrl::parse(url, &POSTGRES)?))
            }
            Some(("sqlite", path)) => StorageUrl::sqlite(path),
            Some(("etcd", _)) => Ok(StorageUrl::Etcd(EtcdUrl::parse(url)?)),
            Some((scheme, _)) => Err(Error::InvalidUrl(format!(
                "storage URL scheme `{scheme}://` is not supported; use sqlite://PATH, \
                 {MYSQL_FORM}, {POSTGRES_FORM} or {ETCD_FORM}"
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

    /// Whether both name the same store: equal, or SQLite paths that lead
    /// to the same existing file.
    pub fn same_store(&self, other: &StorageUrl) -> bool {
        match (self, other) {
            (StorageUrl::Sqlite(a), StorageUrl::Sqlite(b)) => {
                self == other || matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
            }
            _ => self == other,
        }
    }
}

impl PartialEq for StorageUrl {
    fn eq(&self, other: &StorageUrl) -> bool {
        match (self, other) {
            (StorageUrl::Sqlite(a), StorageUrl::Sqlite(b)) => {
                a.components().collect::<Vec<_>>() == b.components().collect::<Vec<_>>()
            }
            (StorageUrl::Mysql(a), StorageUrl::Mysql(b))
            | (StorageUrl::Postgres(a), StorageUrl::Postgres(b)) => a.identity == b.identity,
            (StorageUrl::Etcd(a), StorageUrl::Etcd(b)) => a.identity() == b.identity(),
            _ => false,
        }
    }
}

impl Eq for StorageUrl {}

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
            StorageUrl::Mysql(url) | StorageUrl::Postgres(url) => f.write_str(&redact(&url.written)),
            StorageUrl::Etcd(url) => f.write_str(&url.written),
        }
    }
}

impl std::fmt::Debug for StorageUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StorageUrl({self})")
    }
}

/// A database server's URL, taken apart: what identifies the database, the
/// TLS it asks for, and the URL its client library is given.
#[derive(Clone)]
pub struct ServerUrl {
    /// As written (printed only through [`redact`]).
    pub(crate) written: String,
    /// What the client library is given: as written, less the TLS
    /// parameters privdata reads itself.
    pub(crate) client: String,
    /// How the store talks to the server.
    pub(crate) tls: Tls,
    /// The hosts (lower case, no brackets) and ports (the default when
    /// none is written), the user and the database.
    identity: (Vec<(String, u16)>, String, String),
}

impl std::fmt::Debug for ServerUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServerUrl({})", redact(&self.written))
    }
}

/// What differs between the servers' URLs.
pub(crate) struct Dialect {
    form: &'static str,
    default_port: u16,
    /// Whether a URL must name its database (PostgreSQL defaults to the
    /// user's name).
    needs_database: bool,
    pub(crate) tls: Words,
}

const MYSQL: Dialect = Dialect {
    form: MYSQL_FORM,
    default_port: 3306,
    needs_database: true,
    tls: Words {
        mode: "ssl-mode",
        plain: "DISABLED",
        verified: "VERIFY_IDENTITY",
        ca: "ssl-ca",
    },
};

const POSTGRES: Dialect = Dialect {
    form: POSTGRES_FORM,
    default_port: 5432,
    needs_database: false,
    tls: Words {
        mode: "sslmode",
        plain: "disable",
        verified: "verify-full",
        ca: "sslrootcert",
    },
};

impl ServerUrl {
    fn parse(url: &str, dialect: &Dialect) -> Result<ServerUrl> {
        let bad = |why: String| {
            Error::InvalidUrl(format!(
                "storage URL {}: {why}; the form is {}",
                redact(url),
                dialect.form
            ))
        };
        let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, database) = rest.split_once('/').unwrap_or((rest, ""));
        let (user, hosts) = match authority.rsplit_once('@') {
            Some((userinfo, hosts)) => (userinfo.split(':').next().unwrap_or(""), hosts),
            None => ("", authority),
        };
        let mut identity_hosts = Vec::new();
        for host in hosts.split(',') {
            let (name, port) = match host.strip_prefix('[') {
                Some(v6) => match v6.split_once(']') {
                    Some((ip, rest)) => (ip, rest.strip_prefix(':')),
                    None => return Err(bad(format!("{host:?} has no closing ]"))),
                },
                None => match host.rsplit_once(':') {
                    Some((name, port)) => (name, Some(port)),
                    None => (host, None),
                },
            };
            let port = match port {
                Some(port) => port
                    .parse::<u16>()
                    .map_err(|_| bad(format!("port {port:?} is not a number from 1 to 65535")))?,
                None => dialect.default_port,
            };
            identity_hosts.push((percent_decoded(name).to_ascii_lowercase(), port));
        }
        if dialect.needs_database && database.is_empty() {
            return Err(bad("it names no database".into()));
        }
        let mut params: Vec<(String, String)> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((name, value)) => (name.to_string(), value.to_string()),
                None => (p.to_string(), String::new()),
            })
            .collect();
        let local = identity_hosts.iter().all(|(h, _)| is_local(h));
        let tls =
            super::server_tls::from_params(&mut params, local, &dialect.tls, percent_decoded).map_err(bad)?;
        let base = url.split_once('?').map_or(url, |(base, _)| base);
        let client = match params.is_empty() {
            true => base.to_string(),
            false => {
                let query: Vec<String> = params
                    .iter()
                    .map(|(n, v)| {
                        if v.is_empty() {
                            n.clone()
                        } else {
                            format!("{n}={v}")
                        }
                    })
                    .collect();
                format!("{base}?{}", query.join("&"))
            }
        };
        let database = match (percent_decoded(database), dialect.needs_database) {
            (db, false) if db.is_empty() => percent_decoded(user),
            (db, _) => db,
        };
        Ok(ServerUrl {
            written: url.to_string(),
            client,
            tls,
            identity: (identity_hosts, percent_decoded(user), database),
        })
    }
}

/// An etcd cluster's URL, taken apart.
#[derive(Clone)]
pub struct EtcdUrl {
    /// As written (it holds no password).
    pub(crate) written: String,
    /// The members, `HOST:PORT` each, as written.
    pub(crate) members: Vec<String>,
    /// The prefix the entries are kept under: `/` and no trailing `/`.
    pub(crate) prefix: String,
    /// How many operations the cluster takes in one transaction.
    pub(crate) max_txn_ops: usize,
}

impl std::fmt::Debug for EtcdUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EtcdUrl({})", self.written)
    }
}

/// etcd's default `--max-txn-ops`.
pub(crate) const DEFAULT_MAX_TXN_OPS: usize = 128;

impl EtcdUrl {
    fn parse(url: &str) -> Result<EtcdUrl> {
        let bad =
            |why: String| Error::InvalidUrl(format!("storage URL {url}: {why}; the form is {ETCD_FORM}"));
        let rest = url
            .strip_prefix("etcd://")
            .ok_or_else(|| bad("not an etcd URL".into()))?;
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (members, prefix) = match rest.split_once('/') {
            Some((members, prefix)) if !prefix.trim_matches('/').is_empty() => {
                (members, format!("/{}", prefix.trim_matches('/')))
            }
            _ => return Err(bad("it names no prefix to keep the entries under".into())),
        };
        if members.contains('@') {
            return Err(bad("etcd users and passwords are not supported".into()));
        }
        let mut max_txn_ops = DEFAULT_MAX_TXN_OPS;
        let mut plaintext_asked = false;
        for param in query.split('&').filter(|p| !p.is_empty()) {
            match param.split_once('=') {
                Some(("max-txn-ops", n)) => {
                    max_txn_ops = n
                        .parse()
                        .ok()
                        .filter(|n| *n >= 4)
                        .ok_or_else(|| bad(format!("max-txn-ops={n}: a number, at least 4")))?;
                }
                Some(("sslmode", "disable")) => plaintext_asked = true,
                _ => {
                    return Err(bad(format!(
                        "unknown parameter {param:?} (known: max-txn-ops, sslmode)"
                    )));
                }
            }
        }
        let mut list = Vec::new();
        for member in members.split(',') {
            let Some((host, _)) = member.rsplit_once(':').filter(|(_, p)| p.parse::<u16>().is_ok()) else {
                return Err(bad(format!("member {member:?} is not HOST:PORT")));
            };
            if !is_local(host.trim_start_matches('[').trim_end_matches(']')) && !plaintext_asked {
                return Err(bad(format!(
                    "member {member} is not on this machine, and this store speaks to etcd in \
                     plaintext only (no TLS yet): add ?sslmode=disable to say that is what you want"
                )));
            }
            list.push(member.to_string());
        }
        Ok(EtcdUrl {
            written: url.to_string(),
            members: list,
            prefix,
            max_txn_ops,
        })
    }

    /// The members (lower case) and the prefix.
    fn identity(&self) -> (Vec<String>, &str) {
        let mut members: Vec<String> = self.members.iter().map(|m| m.to_ascii_lowercase()).collect();
        members.sort();
        (members, &self.prefix)
    }
}

/// Whether `host` is this machine: a loopback address, `localhost` (in any
/// case), or a Unix socket (a path, or no host at all). The one test of it.
pub(crate) fn is_local(host: &str) -> bool {
    host.is_empty()
        || host.starts_with('/')
        || host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> StorageUrl {
        StorageUrl::parse(s).unwrap()
    }

    #[test]
    fn two_spellings_of_one_store_are_equal() {
        for (a, b) in [
            (
                "mysql://u:pw@DB1.example.net/db?ssl-mode=VERIFY_IDENTITY",
                "mariadb://u:other@db1.example.net:3306/db",
            ),
            (
                "postgres://u:p@127.0.0.1/db",
                "postgresql://u:p@127.0.0.1:5432/db?connect_timeout=3",
            ),
            ("postgres://u:p@127.0.0.1:5432/u", "postgres://u:p@127.0.0.1:5432"),
            ("sqlite:///var/lib/privdata/./p.db", "/var/lib/privdata/p.db"),
            (
                "etcd://127.0.0.1:2379,127.0.0.1:2380/p",
                "etcd://127.0.0.1:2380,127.0.0.1:2379/p/",
            ),
        ] {
            assert_eq!(url(a), url(b), "{a} and {b}");
        }
        for (a, b) in [
            ("mysql://u:p@127.0.0.1/db", "mysql://u:p@127.0.0.1/db2"),
            ("mysql://u:p@127.0.0.1/db", "postgres://u:p@127.0.0.1/db"),
            ("mysql://u:p@127.0.0.1:3307/db", "mysql://u:p@127.0.0.1/db"),
            ("mysql://u:p@127.0.0.1/db", "mysql://v:p@127.0.0.1/db"),
            ("etcd://127.0.0.1:2379/p", "etcd://127.0.0.1:2379/q"),
        ] {
            assert_ne!(url(a), url(b), "{a} and {b}");
        }
    }

    #[test]
    fn a_bad_url_is_invalid_and_says_the_form_without_the_password() {
        for (bad, says) in [
            ("mysql://u:pw@127.0.0.1:3306", "names no database"),
            (
                "mysql://u:pw@127.0.0.1:notaport/db",
                "mysql://USER:PASSWORD@HOST:PORT/DATABASE",
            ),
            (
                "postgres://u:pw@127.0.0.1:notaport/db",
                "postgres://USER:PASSWORD@HOST:PORT/DATABASE",
            ),
            ("postgres://u:pw@h/db?sslmode=require", "sslmode=verify-full"),
            ("etcd://127.0.0.1/p", "is not HOST:PORT"),
            ("redis://h/0", "is not supported"),
        ] {
            let err = StorageUrl::parse(bad).unwrap_err();
            assert!(matches!(err, Error::InvalidUrl(_)), "{bad}: {err:?}");
            let msg = err.to_string();
            assert!(msg.contains(says) && !msg.contains(":pw@"), "{bad}: {msg}");
        }
    }

    #[test]
    fn the_password_never_prints() {
        let u = url("postgres://user:s3cret@127.0.0.1/db");
        assert_eq!(u.to_string(), "postgres://user:***@127.0.0.1/db");
        assert!(!format!("{u:?}").contains("s3cret"));
    }
}
