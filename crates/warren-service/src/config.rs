//! Configuration layering exactly as Habitat does it (spec §8.3): `default.toml` <
//! `HAB_<PKG>` environment variable (TOML, else JSON) < `/hab/user/<svc>/config/user.toml` <
//! gossiped config (`hab config apply`, highest incarnation). Tables merge recursively, later
//! layers win, and merging stops with an error past Habitat's depth of 30.
//!
//! [`ConfigLayers`] holds the four layers and the merged result. Every change goes through a
//! setter that validates first: invalid TOML or JSON, or a merge that would exceed the depth
//! limit, is reported and leaves both the layer and the merged configuration as they were, so
//! the last good configuration stays in force. (Habitat logs a failed merge and keeps a
//! partially merged table; Warren keeps the previous whole one.)
//!
//! Also here: the exported configuration of §7.4 ([`exports`]).
//!
//! What this module does not do: read files, the process environment or the ring, or watch
//! anything. The caller reads `user.toml` when it changes, the variable at start-up, and hands
//! gossiped `ServiceConfig` payloads over as they arrive.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::plan::Package;

/// Habitat's limit on nested-table merging (`TOML_MAX_MERGE_DEPTH`): merging two tables that
/// both have tables more than this many levels down fails.
pub const MAX_MERGE_DEPTH: usize = 30;

/// The environment variable that carries a package's configuration: `HAB_` and the package
/// name upper-cased, with `-` turned into `_` (`redis-ha` → `HAB_REDIS_HA`).
pub fn env_var_name(pkg_name: &str) -> String {
    format!("HAB_{pkg_name}")
        .to_ascii_uppercase()
        .replace('-', "_")
}

/// Where a service's user configuration lives: `<fs_root>/hab/user/<svc>/config/user.toml`.
pub fn user_toml_path(fs_root: &Path, svc_name: &str) -> PathBuf {
    fs_root
        .join("hab/user")
        .join(svc_name)
        .join("config/user.toml")
}

/// Habitat's deprecated place for `user.toml`, read when the recommended one does not exist:
/// `<fs_root>/hab/svc/<svc>/user.toml`.
pub fn deprecated_user_toml_path(fs_root: &Path, svc_name: &str) -> PathBuf {
    fs_root.join("hab/svc").join(svc_name).join("user.toml")
}

/// The exported configuration (§7.4): each of the package's export keys mapped to the value at
/// its dotted path in `cfg`; keys whose path is missing are left out. This is the `cfg` of the
/// Service rumor and of `svc.me` in templates.
pub fn exports(pkg: &Package, cfg: &toml::Table) -> toml::Table {
    warren_template::exported_cfg(&pkg.exports, cfg)
}

/// The four layers, lowest precedence first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layer {
    /// The package's `default.toml`.
    Default,
    /// The `HAB_<PKG>` environment variable.
    Environment,
    /// `user.toml`.
    User,
    /// Configuration gossiped with `hab config apply`.
    Gossip,
}

impl Layer {
    /// All layers, lowest precedence first.
    pub const ALL: [Layer; 4] = [
        Layer::Default,
        Layer::Environment,
        Layer::User,
        Layer::Gossip,
    ];

    fn index(self) -> usize {
        match self {
            Layer::Default => 0,
            Layer::Environment => 1,
            Layer::User => 2,
            Layer::Gossip => 3,
        }
    }
}

/// Where in a TOML text a parse failed, and the parser's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TomlSyntax {
    /// 1-based line, if the parser reported a position.
    pub line: Option<usize>,
    /// 1-based column (in characters), if the parser reported a position.
    pub column: Option<usize>,
    /// The parser's message.
    pub message: String,
}

impl fmt::Display for TomlSyntax {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => {
                write!(f, "at line {line}, column {column}: {}", self.message)
            }
            _ => write!(f, "{}", self.message),
        }
    }
}

/// Parses a TOML document into a table, reporting the position of a failure.
pub(crate) fn parse_table(text: &str) -> Result<toml::Table, TomlSyntax> {
    text.parse::<toml::Table>().map_err(|e| {
        let position = e.span().map(|span| {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before
                .rsplit('\n')
                .next()
                .unwrap_or_default()
                .chars()
                .count()
                + 1;
            (line, column)
        });
        TomlSyntax {
            line: position.map(|p| p.0),
            column: position.map(|p| p.1),
            message: e.message().trim().to_owned(),
        }
    })
}

/// A rejected configuration change. In every case the layer and the merged configuration are
/// unchanged.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file or gossiped payload is not valid TOML.
    #[error("{source_name}: invalid TOML {syntax}; keeping the previous configuration")]
    InvalidToml {
        /// The file (`default.toml`, the `user.toml` path) or `gossiped config (incarnation N)`.
        source_name: String,
        /// Where and what.
        syntax: TomlSyntax,
    },
    /// The environment variable is neither a TOML document nor a JSON object TOML can hold.
    #[error(
        "environment variable {var}: neither TOML ({toml}) nor JSON ({json}); keeping the \
         previous configuration"
    )]
    InvalidEnv {
        /// The variable's name.
        var: String,
        /// Why it is not TOML.
        toml: TomlSyntax,
        /// Why it is not usable JSON.
        json: String,
    },
    /// Merging the layer would nest tables deeper than [`MAX_MERGE_DEPTH`].
    #[error(
        "{source_name}: merging it nests tables deeper than {max} levels (at `{path}`); \
         keeping the previous configuration",
        max = MAX_MERGE_DEPTH
    )]
    TooDeep {
        /// The layer being changed.
        source_name: String,
        /// The dotted path where the limit was crossed.
        path: String,
    },
}

/// The configuration layers of one service and their merge.
///
/// Call order: build it once per service ([`ConfigLayers::for_package`] or
/// [`ConfigLayers::new`]), then call a setter whenever its source changes; each returns
/// whether the merged configuration changed, which is the caller's cue to re-render and
/// re-gossip the service's exports. [`ConfigLayers::merged`] is always the last good merge.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigLayers {
    layers: [Option<toml::Table>; 4],
    gossip_incarnation: u64,
    merged: toml::Table,
    default_name: String,
    env_var: String,
    user_name: String,
}

impl ConfigLayers {
    /// Empty layers for package `pkg_name`; errors name `default.toml` and
    /// `/hab/user/<pkg_name>/config/user.toml`.
    pub fn new(pkg_name: &str) -> ConfigLayers {
        ConfigLayers {
            layers: [None, None, None, None],
            gossip_incarnation: 0,
            merged: toml::Table::new(),
            default_name: "default.toml".to_owned(),
            env_var: env_var_name(pkg_name),
            user_name: user_toml_path(Path::new("/"), pkg_name)
                .display()
                .to_string(),
        }
    }

    /// Layers for `pkg`, with its `default.toml` already in place; errors name the package's
    /// `default.toml` and the `user.toml` under `fs_root`.
    pub fn for_package(pkg: &Package, fs_root: &Path) -> ConfigLayers {
        let mut layers = ConfigLayers::new(pkg.name());
        if let Some(path) = &pkg.default_toml {
            layers.default_name = path.display().to_string();
        }
        layers.user_name = user_toml_path(fs_root, pkg.name()).display().to_string();
        // A single layer merges into an empty table without recursing, so this cannot fail.
        layers.layers[Layer::Default.index()] = Some(pkg.default_cfg.clone());
        layers.merged = pkg.default_cfg.clone();
        layers
    }

    /// The name of the environment variable this service reads (`HAB_<PKG>`).
    pub fn env_var(&self) -> &str {
        &self.env_var
    }

    /// The merged configuration: the `cfg` templates see.
    pub fn merged(&self) -> &toml::Table {
        &self.merged
    }

    /// One layer as last accepted, if it is set.
    pub fn layer(&self, layer: Layer) -> Option<&toml::Table> {
        self.layers.get(layer.index()).and_then(Option::as_ref)
    }

    /// The incarnation of the gossiped config in force (0 before any).
    pub fn gossip_incarnation(&self) -> u64 {
        self.gossip_incarnation
    }

    /// Replaces the `default.toml` layer with `text`.
    pub fn set_default_toml(&mut self, text: &str) -> Result<bool, ConfigError> {
        let table = parse_table(text).map_err(|syntax| ConfigError::InvalidToml {
            source_name: self.default_name.clone(),
            syntax,
        })?;
        self.replace(Layer::Default, Some(table))
    }

    /// Sets the environment layer from the value of `HAB_<PKG>`: a TOML document, or failing
    /// that a JSON object (Habitat's order).
    pub fn set_env(&mut self, value: &str) -> Result<bool, ConfigError> {
        let table = match parse_table(value) {
            Ok(table) => table,
            Err(toml) => match json_to_table(value) {
                Ok(table) => table,
                Err(json) => {
                    return Err(ConfigError::InvalidEnv {
                        var: self.env_var.clone(),
                        toml,
                        json,
                    });
                }
            },
        };
        self.replace(Layer::Environment, Some(table))
    }

    /// Removes the environment layer (the variable is unset).
    pub fn clear_env(&mut self) -> Result<bool, ConfigError> {
        self.replace(Layer::Environment, None)
    }

    /// Replaces the `user.toml` layer with `text`.
    pub fn set_user_toml(&mut self, text: &str) -> Result<bool, ConfigError> {
        let table = parse_table(text).map_err(|syntax| ConfigError::InvalidToml {
            source_name: self.user_name.clone(),
            syntax,
        })?;
        self.replace(Layer::User, Some(table))
    }

    /// Removes the `user.toml` layer (the file was deleted).
    pub fn clear_user_toml(&mut self) -> Result<bool, ConfigError> {
        self.replace(Layer::User, None)
    }

    /// Offers a gossiped config. It is applied only if `incarnation` is greater than the one in
    /// force (so incarnation 0 never is, as in Habitat); an older or equal one returns
    /// `Ok(false)` and changes nothing. An invalid one is an error and does not advance the
    /// incarnation, so a valid config with the same incarnation may still follow.
    pub fn apply_gossip(&mut self, incarnation: u64, text: &str) -> Result<bool, ConfigError> {
        if incarnation <= self.gossip_incarnation {
            return Ok(false);
        }
        let table = parse_table(text).map_err(|syntax| ConfigError::InvalidToml {
            source_name: format!("gossiped config (incarnation {incarnation})"),
            syntax,
        })?;
        let changed = self
            .replace(Layer::Gossip, Some(table))
            .map_err(|e| match e {
                ConfigError::TooDeep { path, .. } => ConfigError::TooDeep {
                    source_name: format!("gossiped config (incarnation {incarnation})"),
                    path,
                },
                other => other,
            })?;
        self.gossip_incarnation = incarnation;
        Ok(changed)
    }

    fn source_name(&self, layer: Layer) -> String {
        match layer {
            Layer::Default => self.default_name.clone(),
            Layer::Environment => format!("environment variable {}", self.env_var),
            Layer::User => self.user_name.clone(),
            Layer::Gossip => "gossiped config".to_owned(),
        }
    }

    /// Swaps one layer if the merge of all four still succeeds.
    fn replace(&mut self, layer: Layer, new: Option<toml::Table>) -> Result<bool, ConfigError> {
        let mut merged = toml::Table::new();
        for l in Layer::ALL {
            let table = if l == layer {
                new.as_ref()
            } else {
                self.layer(l)
            };
            if let Some(table) = table {
                merge(&mut merged, table).map_err(|path| ConfigError::TooDeep {
                    source_name: self.source_name(layer),
                    path,
                })?;
            }
        }
        if let Some(slot) = self.layers.get_mut(layer.index()) {
            *slot = new;
        }
        let changed = merged != self.merged;
        self.merged = merged;
        Ok(changed)
    }
}

/// Deep-merges `over` into `base` as Habitat does: where both hold a table under the same key
/// the tables merge, anything else in `over` replaces what `base` had. Fails with the dotted
/// path where two tables meet more than [`MAX_MERGE_DEPTH`] levels down; `base` is then
/// partly merged, so merge into a scratch table.
pub fn merge(base: &mut toml::Table, over: &toml::Table) -> Result<(), String> {
    merge_at(base, over, 0, &mut Vec::new())
}

fn merge_at<'a>(
    base: &mut toml::Table,
    over: &'a toml::Table,
    depth: usize,
    path: &mut Vec<&'a str>,
) -> Result<(), String> {
    if depth > MAX_MERGE_DEPTH {
        return Err(path.join("."));
    }
    for (key, value) in over {
        match (base.get_mut(key), value) {
            (Some(toml::Value::Table(mine)), toml::Value::Table(theirs)) => {
                path.push(key);
                merge_at(mine, theirs, depth + 1, path)?;
                path.pop();
            }
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
    Ok(())
}

/// A JSON object as a TOML table. `null` and integers beyond `i64` have no TOML form.
fn json_to_table(text: &str) -> Result<toml::Table, String> {
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    match json_to_toml(&json, "")? {
        toml::Value::Table(table) => Ok(table),
        _ => Err("the top level is not an object".to_owned()),
    }
}

fn json_to_toml(json: &serde_json::Value, at: &str) -> Result<toml::Value, String> {
    let place = || {
        if at.is_empty() {
            "the top level".to_owned()
        } else {
            format!("`{at}`")
        }
    };
    Ok(match json {
        serde_json::Value::Null => return Err(format!("null at {} has no TOML form", place())),
        serde_json::Value::Bool(b) => toml::Value::Boolean(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                toml::Value::Integer(i)
            } else if n.is_u64() {
                return Err(format!("{n} at {} is too large for TOML", place()));
            } else {
                toml::Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::String(s) => toml::Value::String(s.clone()),
        serde_json::Value::Array(items) => toml::Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| json_to_toml(v, &format!("{at}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        serde_json::Value::Object(map) => {
            let mut table = toml::Table::new();
            for (k, v) in map {
                let path = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                table.insert(k.clone(), json_to_toml(v, &path)?);
            }
            toml::Value::Table(table)
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn t(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    /// `depth` nested tables `k0.k1...` with `leaf = value` at the bottom, as TOML.
    fn nested(depth: usize, value: &str) -> String {
        let keys: Vec<String> = (0..depth).map(|i| format!("k{i}")).collect();
        format!("[{}]\nleaf = {value}\n", keys.join("."))
    }

    #[test]
    fn env_var_names() {
        assert_eq!(env_var_name("redis"), "HAB_REDIS");
        assert_eq!(env_var_name("nginx-proxy"), "HAB_NGINX_PROXY");
        assert_eq!(env_var_name("my_app2"), "HAB_MY_APP2");
    }

    #[test]
    fn user_toml_paths() {
        assert_eq!(
            user_toml_path(Path::new("/tmp/root"), "redis"),
            PathBuf::from("/tmp/root/hab/user/redis/config/user.toml")
        );
        assert_eq!(
            deprecated_user_toml_path(Path::new("/"), "redis"),
            PathBuf::from("/hab/svc/redis/user.toml")
        );
    }

    #[test]
    fn merge_is_deep_and_later_wins() {
        let mut base =
            t("a = 1\nlist = [1, 2]\n[srv]\nport = 1\nhost = \"h\"\n[srv.tls]\non = false\n");
        merge(
            &mut base,
            &t("list = [3]\nb = 2\n[srv]\nport = 2\n[srv.tls]\non = true\ncert = \"c\"\n"),
        )
        .unwrap();
        assert_eq!(
            base,
            t(
                "a = 1\nb = 2\nlist = [3]\n[srv]\nport = 2\nhost = \"h\"\n[srv.tls]\non = true\ncert = \"c\"\n"
            )
        );
        // A scalar replaces a table and a table replaces a scalar.
        let mut base = t("x = 1\n[y]\nz = 1\n");
        merge(&mut base, &t("y = 2\n[x]\nz = 2\n")).unwrap();
        assert_eq!(base, t("y = 2\n[x]\nz = 2\n"));
    }

    #[test]
    fn every_layer_order() {
        // Each layer sets `mine` to its own name and the shared key `v` to its rank; every
        // subset of layers must give `v` = the highest layer set, and keep each `mine`.
        let names = ["default", "env", "user", "gossip"];
        for mask in 0u8..16 {
            let mut c = ConfigLayers::new("redis");
            let mut top = None;
            // Set them in reverse order, so precedence cannot come from call order.
            for (rank, layer) in Layer::ALL.iter().enumerate().rev() {
                if mask & (1 << rank) == 0 {
                    continue;
                }
                let text = format!("v = {rank}\n[{}]\nmine = true\n", names[rank]);
                match layer {
                    Layer::Default => c.set_default_toml(&text),
                    Layer::Environment => c.set_env(&text),
                    Layer::User => c.set_user_toml(&text),
                    Layer::Gossip => c.apply_gossip(1, &text),
                }
                .unwrap();
                top = top.or(Some(rank));
            }
            let merged = c.merged();
            assert_eq!(
                merged.get("v").and_then(toml::Value::as_integer),
                top.map(|r| r as i64),
                "mask {mask:04b}"
            );
            for (rank, name) in names.iter().enumerate() {
                assert_eq!(
                    merged.contains_key(*name),
                    mask & (1 << rank) != 0,
                    "{mask:04b}"
                );
            }
        }
    }

    #[test]
    fn clearing_a_layer_uncovers_the_one_below() {
        let mut c = ConfigLayers::new("redis");
        c.set_default_toml("port = 1\n").unwrap();
        assert!(c.set_env("port = 2\n").unwrap());
        assert!(c.set_user_toml("port = 3\n").unwrap());
        assert!(
            !c.set_user_toml("port = 3\n").unwrap(),
            "same content: unchanged"
        );
        assert!(c.clear_user_toml().unwrap());
        assert_eq!(c.merged()["port"].as_integer(), Some(2));
        assert!(c.clear_env().unwrap());
        assert_eq!(c.merged()["port"].as_integer(), Some(1));
        assert_eq!(c.layer(Layer::User), None);
        assert_eq!(c.layer(Layer::Default), Some(&t("port = 1\n")));
    }

    #[test]
    fn env_falls_back_to_json() {
        let mut c = ConfigLayers::new("redis");
        c.set_default_toml("port = 1\n[tls]\non = false\nciphers = \"x\"\n")
            .unwrap();
        c.set_env(r#"{"port": 6380, "tls": {"on": true}, "ratio": 0.5, "tags": ["a", "b"]}"#)
            .unwrap();
        assert_eq!(
            c.merged(),
            &t(
                "port = 6380\nratio = 0.5\ntags = [\"a\", \"b\"]\n[tls]\non = true\nciphers = \"x\"\n"
            )
        );
        // TOML is tried first: this is valid TOML, so it is read as TOML.
        c.set_env("port = 7\n").unwrap();
        assert_eq!(c.merged()["port"].as_integer(), Some(7));
        assert_eq!(c.env_var(), "HAB_REDIS");

        for (bad, want) in [
            ("port = ", "HAB_REDIS: neither TOML (at line 1"),
            ("[1, 2]", "the top level is not an object"),
            (r#"{"a": null}"#, "null at `a` has no TOML form"),
            (
                r#"{"a": {"b": [18446744073709551615]}}"#,
                "at `a.b[0]` is too large",
            ),
        ] {
            let err = c.set_env(bad).unwrap_err().to_string();
            assert!(err.contains(want), "{bad}: {err}");
            assert!(err.contains("keeping the previous configuration"), "{err}");
            assert_eq!(c.merged()["port"].as_integer(), Some(7), "{bad}");
        }
    }

    #[test]
    fn invalid_toml_keeps_the_previous_layer() {
        let mut c = ConfigLayers::new("redis");
        c.set_default_toml("port = 1\n").unwrap();
        c.set_user_toml("port = 2\n").unwrap();
        let before = c.clone();

        let err = c
            .set_user_toml("port = 3\nhost = \n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("/hab/user/redis/config/user.toml: invalid TOML at line 2, column 8"),
            "{err}"
        );
        let err = c.set_default_toml("[x\n").unwrap_err().to_string();
        assert!(
            err.starts_with("default.toml: invalid TOML at line 1"),
            "{err}"
        );
        let err = c.apply_gossip(4, "= 1").unwrap_err().to_string();
        assert!(
            err.starts_with("gossiped config (incarnation 4): invalid TOML"),
            "{err}"
        );
        assert_eq!(c, before);
        assert_eq!(c.merged()["port"].as_integer(), Some(2));
    }

    #[test]
    fn gossip_needs_a_higher_incarnation() {
        let mut c = ConfigLayers::new("redis");
        c.set_user_toml("port = 1\n").unwrap();
        assert!(
            !c.apply_gossip(0, "port = 9\n").unwrap(),
            "0 is never applied"
        );
        assert_eq!(c.gossip_incarnation(), 0);
        assert!(c.apply_gossip(5, "port = 5\n").unwrap());
        assert_eq!(c.gossip_incarnation(), 5);
        assert!(!c.apply_gossip(5, "port = 6\n").unwrap(), "equal is stale");
        assert!(!c.apply_gossip(3, "port = 3\n").unwrap(), "lower is stale");
        assert_eq!(c.merged()["port"].as_integer(), Some(5));
        // Invalid gossip does not advance the incarnation.
        assert!(c.apply_gossip(7, "port = ").is_err());
        assert_eq!(c.gossip_incarnation(), 5);
        assert!(c.apply_gossip(7, "port = 7\n").unwrap());
        // Same content at a higher incarnation: accepted, merged unchanged.
        assert!(!c.apply_gossip(8, "port = 7\n").unwrap());
        assert_eq!(c.gossip_incarnation(), 8);
        // Gossip outranks user.toml even when user.toml changes later.
        c.set_user_toml("port = 2\nhost = \"u\"\n").unwrap();
        assert_eq!(c.merged(), &t("port = 7\nhost = \"u\"\n"));
    }

    #[test]
    fn merge_depth_limit_is_habitats() {
        // 30 nested tables on both sides merge; 31 do not (Habitat's test uses 30 and 32).
        let mut base = t(&nested(MAX_MERGE_DEPTH, "1"));
        merge(&mut base, &t(&nested(MAX_MERGE_DEPTH, "2"))).unwrap();
        let mut base = t(&nested(MAX_MERGE_DEPTH + 1, "1"));
        let path = merge(&mut base, &t(&nested(MAX_MERGE_DEPTH + 1, "2"))).unwrap_err();
        assert!(path.ends_with("k29.k30"), "{path}");

        // A deep table alone is fine: only where two tables meet does the merge recurse.
        let mut c = ConfigLayers::new("redis");
        c.set_default_toml(&nested(40, "1")).unwrap();
        c.set_env("x = 1\n").unwrap();
        let before = c.clone();
        let err = c.set_user_toml(&nested(31, "2")).unwrap_err();
        assert!(
            matches!(&err, ConfigError::TooDeep { source_name, .. } if source_name.ends_with("user.toml")),
            "{err}"
        );
        assert!(err.to_string().contains("deeper than 30 levels"), "{err}");
        assert_eq!(c, before);
        c.set_user_toml(&nested(30, "2")).unwrap();
    }

    #[test]
    fn removing_a_layer_can_hit_the_depth_limit_too() {
        // user.toml replaces the deep table with a scalar, so default and gossip never meet;
        // without user.toml they would, too deep, so removing it is refused.
        let mut c = ConfigLayers::new("redis");
        c.set_default_toml(&nested(32, "1")).unwrap();
        c.set_user_toml("k0 = 0\n").unwrap();
        c.apply_gossip(1, &nested(32, "2")).unwrap();
        assert!(matches!(
            c.clear_user_toml(),
            Err(ConfigError::TooDeep { .. })
        ));
        assert_eq!(c.layer(Layer::User), Some(&t("k0 = 0\n")));
    }

    #[test]
    fn exports_projection() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("plan.sh"),
            "pkg_name=web\npkg_exports=( [port]=srv.port [host]=srv.host [gone]=no.such [deep]=srv.tls )\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("default.toml"),
            "[srv]\nport = 80\nhost = \"a\"\n[srv.tls]\non = false\n",
        )
        .unwrap();
        let pkg = Package::from_plan_dir(dir.path()).unwrap();
        let mut c = ConfigLayers::for_package(&pkg, Path::new("/root"));
        assert_eq!(
            exports(&pkg, c.merged()),
            t("port = 80\nhost = \"a\"\n[deep]\non = false\n")
        );
        c.set_user_toml("[srv]\nport = 8080\n").unwrap();
        assert_eq!(
            exports(&pkg, c.merged()),
            t("port = 8080\nhost = \"a\"\n[deep]\non = false\n")
        );
        let err = c.set_user_toml("[").unwrap_err().to_string();
        assert!(
            err.starts_with("/root/hab/user/web/config/user.toml: invalid TOML"),
            "{err}"
        );
        let err = c.set_default_toml("[").unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "{}: invalid TOML",
                dir.path().join("default.toml").display()
            )),
            "{err}"
        );
    }
}
