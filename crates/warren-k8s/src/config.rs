//! Where the pod and the API server are: [`Config`].

use std::path::{Path, PathBuf};

/// The service-account directory Kubernetes mounts into every pod (unless disabled).
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The environment variable naming another service-account directory.
pub const SERVICE_ACCOUNT_DIR_ENV: &str = "WARREN_K8S_SERVICE_ACCOUNT_DIR";

/// The pod, the API server and the credentials used to reach it.
///
/// Every field is public so tests (and unusual deployments) can point it at temporary files and
/// a fake server; [`Config::in_cluster`] fills it from the usual in-cluster sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The API server's host: a DNS name or an IP address (IPv6 without brackets). Also the
    /// TLS server name the certificate is checked against.
    pub api_host: String,
    /// The API server's port.
    pub api_port: u16,
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub pod_name: String,
    /// The service-account token file; re-read for every request (projected tokens rotate).
    pub token_path: PathBuf,
    /// The PEM file of the CA(s) the API server's certificate must chain to.
    pub ca_path: PathBuf,
}

/// Why [`Config::in_cluster`] could not build a configuration. Nothing is changed by a failure.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// An environment variable needed is unset or empty.
    #[error(
        "{what}: environment variable {var} is not set (not running in a Kubernetes pod? \
         set it, e.g. through the downward API)"
    )]
    MissingEnv {
        /// What the variable gives.
        what: &'static str,
        /// The variable (or variables, when there is a fallback) looked at.
        var: &'static str,
    },
    /// `KUBERNETES_SERVICE_PORT` is not a port number.
    #[error("KUBERNETES_SERVICE_PORT={value:?} is not a port number")]
    BadPort {
        /// The value found.
        value: String,
    },
    /// The namespace could be read from neither `POD_NAMESPACE` nor the service-account file.
    #[error(
        "pod namespace: POD_NAMESPACE is not set and {path} could not be read ({detail}); set \
         POD_NAMESPACE through the downward API or mount the service-account token"
    )]
    Namespace {
        /// The namespace file tried.
        path: PathBuf,
        /// The I/O error, or "empty".
        detail: String,
    },
    /// A service-account file (token or CA) is missing.
    #[error("{what}: {path} does not exist (is automountServiceAccountToken false for this pod?)")]
    MissingFile {
        /// Which file.
        what: &'static str,
        /// Its path.
        path: PathBuf,
    },
}

impl Config {
    /// Reads the in-cluster configuration: pod name from `POD_NAME` (falling back to
    /// `HOSTNAME`), namespace from `POD_NAMESPACE` (falling back to the service-account
    /// `namespace` file), the API server from `KUBERNETES_SERVICE_HOST` and
    /// `KUBERNETES_SERVICE_PORT`, token and CA from the service-account directory (checked to
    /// exist; the token is read again for each request): [`SERVICE_ACCOUNT_DIR`], or the
    /// directory in `WARREN_K8S_SERVICE_ACCOUNT_DIR` for a token mounted elsewhere.
    pub fn in_cluster() -> Result<Config, ConfigError> {
        let dir = std::env::var_os(SERVICE_ACCOUNT_DIR_ENV)
            .filter(|d| !d.is_empty())
            .map_or_else(|| PathBuf::from(SERVICE_ACCOUNT_DIR), PathBuf::from);
        Config::from_sources(|var| std::env::var(var).ok(), &dir)
    }

    /// [`Config::in_cluster`] with the environment and the service-account directory given.
    pub fn from_sources(
        env: impl Fn(&str) -> Option<String>,
        service_account_dir: &Path,
    ) -> Result<Config, ConfigError> {
        let get = |var: &str| env(var).filter(|v| !v.trim().is_empty());
        let pod_name =
            get("POD_NAME")
                .or_else(|| get("HOSTNAME"))
                .ok_or(ConfigError::MissingEnv {
                    what: "pod name",
                    var: "POD_NAME (or HOSTNAME)",
                })?;
        let ns_path = service_account_dir.join("namespace");
        let namespace = match get("POD_NAMESPACE") {
            Some(ns) => ns,
            None => match std::fs::read_to_string(&ns_path) {
                Ok(s) if !s.trim().is_empty() => s.trim().to_owned(),
                Ok(_) => {
                    return Err(ConfigError::Namespace {
                        path: ns_path,
                        detail: "empty".to_owned(),
                    });
                }
                Err(e) => {
                    return Err(ConfigError::Namespace {
                        path: ns_path,
                        detail: e.to_string(),
                    });
                }
            },
        };
        let api_host = get("KUBERNETES_SERVICE_HOST").ok_or(ConfigError::MissingEnv {
            what: "API server host",
            var: "KUBERNETES_SERVICE_HOST",
        })?;
        let port = get("KUBERNETES_SERVICE_PORT").ok_or(ConfigError::MissingEnv {
            what: "API server port",
            var: "KUBERNETES_SERVICE_PORT",
        })?;
        let api_port = port.trim().parse().map_err(|_| ConfigError::BadPort {
            value: port.clone(),
        })?;
        let token_path = service_account_dir.join("token");
        let ca_path = service_account_dir.join("ca.crt");
        for (what, path) in [
            ("service-account token", &token_path),
            ("cluster CA", &ca_path),
        ] {
            if !path.exists() {
                return Err(ConfigError::MissingFile {
                    what,
                    path: path.clone(),
                });
            }
        }
        Ok(Config {
            api_host: api_host.trim().to_owned(),
            api_port,
            namespace,
            pod_name: pod_name.trim().to_owned(),
            token_path,
            ca_path,
        })
    }

    /// `https://host:port`, with brackets around an IPv6 address.
    pub fn api_base(&self) -> String {
        format!("https://{}", self.authority())
    }

    /// `host:port` as sent in the `Host` header.
    pub(crate) fn authority(&self) -> String {
        if self.api_host.contains(':') {
            format!("[{}]:{}", self.api_host, self.api_port)
        } else {
            format!("{}:{}", self.api_host, self.api_port)
        }
    }

    /// The path of this pod: `/api/v1/namespaces/{ns}/pods/{name}`.
    pub fn pod_path(&self) -> String {
        self.pod_path_of(&self.pod_name)
    }

    /// The path of pod `name` in this pod's namespace (`name` is not checked here: see
    /// [`crate::Client::get_pod`]).
    pub fn pod_path_of(&self, name: &str) -> String {
        format!("/api/v1/namespaces/{}/pods/{name}", self.namespace)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn sa_dir(namespace: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "t").unwrap();
        std::fs::write(dir.path().join("ca.crt"), "c").unwrap();
        if let Some(ns) = namespace {
            std::fs::write(dir.path().join("namespace"), ns).unwrap();
        }
        dir
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn falls_back_to_hostname_and_namespace_file() {
        let dir = sa_dir(Some("ring\n"));
        let cfg = Config::from_sources(
            env(&[
                ("HOSTNAME", "warren-0"),
                ("KUBERNETES_SERVICE_HOST", "fd00::1"),
                ("KUBERNETES_SERVICE_PORT", "443"),
            ]),
            dir.path(),
        )
        .unwrap();
        assert_eq!(cfg.pod_name, "warren-0");
        assert_eq!(cfg.namespace, "ring");
        assert_eq!(cfg.api_base(), "https://[fd00::1]:443");
        assert_eq!(cfg.pod_path(), "/api/v1/namespaces/ring/pods/warren-0");
        assert_eq!(cfg.token_path, dir.path().join("token"));
    }

    #[test]
    fn env_wins_over_fallbacks() {
        let dir = sa_dir(Some("file-ns"));
        let cfg = Config::from_sources(
            env(&[
                ("POD_NAME", "p"),
                ("HOSTNAME", "h"),
                ("POD_NAMESPACE", "env-ns"),
                ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
                ("KUBERNETES_SERVICE_PORT", "6443"),
            ]),
            dir.path(),
        )
        .unwrap();
        assert_eq!(
            (cfg.pod_name.as_str(), cfg.namespace.as_str()),
            ("p", "env-ns")
        );
        assert_eq!(cfg.api_base(), "https://10.96.0.1:6443");
    }

    #[test]
    fn names_what_is_missing() {
        let dir = sa_dir(None);
        let err = Config::from_sources(env(&[]), dir.path()).unwrap_err();
        assert!(err.to_string().contains("POD_NAME"), "{err}");
        let err = Config::from_sources(env(&[("POD_NAME", "p")]), dir.path()).unwrap_err();
        assert!(err.to_string().contains("POD_NAMESPACE"), "{err}");
        let err = Config::from_sources(
            env(&[("POD_NAME", "p"), ("POD_NAMESPACE", "n")]),
            dir.path(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("KUBERNETES_SERVICE_HOST"), "{err}");
        let err = Config::from_sources(
            env(&[
                ("POD_NAME", "p"),
                ("POD_NAMESPACE", "n"),
                ("KUBERNETES_SERVICE_HOST", "h"),
                ("KUBERNETES_SERVICE_PORT", "https"),
            ]),
            dir.path(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("https"), "{err}");
        std::fs::remove_file(dir.path().join("token")).unwrap();
        let err = Config::from_sources(
            env(&[
                ("POD_NAME", "p"),
                ("POD_NAMESPACE", "n"),
                ("KUBERNETES_SERVICE_HOST", "h"),
                ("KUBERNETES_SERVICE_PORT", "443"),
            ]),
            dir.path(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("token"), "{err}");
    }
}
