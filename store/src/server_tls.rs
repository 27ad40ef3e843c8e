//! TLS to a database server, as its store URL asks, in each server's own
//! words: `ssl-mode` and `ssl-ca` for MariaDB/MySQL, `sslmode` and
//! `sslrootcert` for PostgreSQL. Verified TLS checks the server's chain and
//! name; plaintext is what a loopback address gets by default, and what any
//! other address gets only when the URL asks for it.

use std::path::PathBuf;

/// How a store talks to its server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tls {
    /// Plaintext.
    Plain,
    /// TLS, verifying the server's chain and name against this CA file (PEM)
    /// or, with `None`, the public web roots.
    Verified(Option<PathBuf>),
}

/// A server's names for the TLS parameters.
pub(crate) struct Words {
    /// The mode parameter (`ssl-mode`, `sslmode`).
    pub(crate) mode: &'static str,
    /// Its value for plaintext (`DISABLED`, `disable`).
    pub(crate) plain: &'static str,
    /// Its value for verified TLS (`VERIFY_IDENTITY`, `verify-full`).
    pub(crate) verified: &'static str,
    /// The CA file parameter (`ssl-ca`, `sslrootcert`).
    pub(crate) ca: &'static str,
}

/// The TLS a server URL's parameters ask for, taking out of `params` the
/// ones `words` name (their values as written, which `decode` undoes);
/// `local` says whether every host of the URL is this machine (which gets
/// plaintext unless asked otherwise). The error says what was wrong and
/// what to write instead.
pub(crate) fn from_params(
    params: &mut Vec<(String, String)>,
    local: bool,
    words: &Words,
    decode: fn(&str) -> String,
) -> Result<Tls, String> {
    let (mut mode, mut ca) = (None, None);
    params.retain(|(name, value)| {
        if name == words.mode {
            mode = Some(value.clone());
        } else if name == words.ca {
            ca = Some(PathBuf::from(decode(value)));
        } else {
            return true;
        }
        false
    });
    let tls = match mode.as_deref() {
        Some(m) if m.eq_ignore_ascii_case(words.plain) => {
            if ca.is_some() {
                return Err(format!(
                    "{}={m} asks for plaintext, yet {} names a CA: drop one of them",
                    words.mode, words.ca
                ));
            }
            Tls::Plain
        }
        Some(m) if m.eq_ignore_ascii_case(words.verified) => Tls::Verified(ca),
        Some(m) => {
            return Err(format!(
                "{}={m} is not supported (privdata either checks which server answers or is \
                 told not to encrypt): use {}={} (TLS, checking the server's certificate and \
                 name; add {}=/path/to/ca.pem for a private CA), or {}={} for plaintext",
                words.mode, words.mode, words.verified, words.ca, words.mode, words.plain
            ));
        }
        None if ca.is_some() => Tls::Verified(ca),
        None if local => Tls::Plain,
        None => Tls::Verified(None),
    };
    if let Tls::Verified(Some(path)) = &tls {
        crate::tls::client_config(Some(path)).map_err(|e| format!("{} {}: {e}", words.ca, path.display()))?;
    }
    Ok(tls)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StorageUrl;

    /// What the client library is given, and the TLS, of a server URL.
    fn from_url(url: &str) -> Result<(String, Tls), String> {
        match StorageUrl::parse(url).map_err(|e| e.to_string())? {
            StorageUrl::Mysql(u) | StorageUrl::Postgres(u) => Ok((u.client, u.tls)),
            other => panic!("not a server URL: {other}"),
        }
    }
    #[test]
    fn loopback_is_plaintext_and_any_other_address_is_verified_unless_asked() {
        for url in [
            "postgres://u:p@127.0.0.1:5433/db",
            "postgres://u:p@localhost/db",
            "postgres://u:p@[::1]:5432/db",
            "postgres://u:p@%2Frun%2Fpostgresql/db",
        ] {
            assert_eq!(from_url(url).unwrap(), (url.to_string(), Tls::Plain), "{url}");
        }
        for url in [
            "postgres://u:p@10.0.0.5:5432/db",
            "postgres://u:p@db.example.com/db",
            "postgres://u:p@127.0.0.1:5432,10.0.0.6:5432/db",
            "mysql://u:p@[2001:db8::1]:3306/db",
        ] {
            assert_eq!(from_url(url).unwrap().1, Tls::Verified(None), "{url}");
        }
        let (url, tls) = from_url("postgres://u:p@10.0.0.5/db?sslmode=disable&connect_timeout=3").unwrap();
        assert_eq!(
            (url.as_str(), tls),
            ("postgres://u:p@10.0.0.5/db?connect_timeout=3", Tls::Plain)
        );
        let (url, tls) = from_url("mysql://u:p@10.0.0.5/db?ssl-mode=disabled").unwrap();
        assert_eq!((url.as_str(), tls), ("mysql://u:p@10.0.0.5/db", Tls::Plain));
    }

    #[test]
    fn a_mode_that_does_not_verify_or_a_bad_ca_is_refused_with_the_fix() {
        let err = from_url("postgres://u:p@h/db?sslmode=require").unwrap_err();
        assert!(
            err.contains("sslmode=require is not supported") && err.contains("sslmode=verify-full"),
            "{err}"
        );
        let err = from_url("mysql://u:p@h/db?ssl-mode=REQUIRED").unwrap_err();
        assert!(
            err.contains("ssl-mode=VERIFY_IDENTITY") && err.contains("ssl-ca="),
            "{err}"
        );
        let err = from_url("postgres://u:p@h/db?sslmode=disable&sslrootcert=/ca.pem").unwrap_err();
        assert!(err.contains("drop one"), "{err}");
        let err = from_url("postgres://u:p@h/db?sslrootcert=/no/such/ca.pem").unwrap_err();
        assert!(
            err.contains("sslrootcert /no/such/ca.pem: cannot read it"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("ca.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = from_url(&format!("mysql://u:p@h/db?ssl-ca={}", empty.display())).unwrap_err();
        assert!(err.contains("holds no certificate"), "{err}");
    }
}
