//! Kafka's configuration providers (KIP-297, KIP-887): `config.providers=file,env,dir`
//! declares them, `config.providers.NAME.class` names Kafka's class, and a value
//! `${NAME:path:key}` (or `${NAME:key}`) is replaced by what the provider finds. Volley runs
//! Kafka's three built-in providers: `FileConfigProvider` (a key of a properties file),
//! `EnvVarConfigProvider` (an environment variable) and `DirectoryConfigProvider` (the
//! content of a file in a directory). Unlike Java, a reference that cannot be resolved (an
//! undeclared provider, a missing file, key or variable) is an error, never passed on as
//! text: a literal `${file:...}` password would only fail later, at the broker.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::ConfigError;

const FILE: &str = "org.apache.kafka.common.config.provider.FileConfigProvider";
const ENV: &str = "org.apache.kafka.common.config.provider.EnvVarConfigProvider";
const DIR: &str = "org.apache.kafka.common.config.provider.DirectoryConfigProvider";

/// Whether a key configures the providers (`config.providers`, `config.providers.*`).
pub(super) fn is_provider_key(key: &str) -> bool {
    key == "config.providers" || key.starts_with("config.providers.")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Env,
    Dir,
}

/// A declared provider.
#[derive(Debug)]
struct Provider {
    kind: Kind,
    /// `allowed.paths` (file and dir providers): paths must lie under one of these.
    allowed: Option<Vec<PathBuf>>,
}

fn error(key: &str, reference: &str, why: impl std::fmt::Display) -> ConfigError {
    ConfigError::InvalidValue {
        key: key.to_owned(),
        value: reference.to_owned(),
        allowed: format!("the config provider reference cannot be resolved: {why}"),
    }
}

/// The providers `settings` (the `config.providers*` keys) declare. Every other
/// `config.providers.*` key must belong to a declared provider and be one of its settings: a
/// mistyped `param.allowed.path` must not silently lift the confinement.
fn declared(settings: &BTreeMap<String, String>) -> Result<BTreeMap<String, Provider>, ConfigError> {
    let mut out = BTreeMap::new();
    let names: Vec<&str> = settings
        .get("config.providers")
        .map(|v| v.split(',').map(str::trim).filter(|n| !n.is_empty()).collect())
        .unwrap_or_default();
    for name in &names {
        let class_key = format!("config.providers.{name}.class");
        let Some(class) = settings.get(&class_key) else {
            return Err(ConfigError::Conflict(format!(
                "config.providers names '{name}' but {class_key} is not set"
            )));
        };
        let kind = match class.as_str() {
            FILE => Kind::File,
            ENV => Kind::Env,
            DIR => Kind::Dir,
            other => {
                return Err(ConfigError::InvalidValue {
                    key: class_key,
                    value: other.to_owned(),
                    allowed: format!(
                        "one of Kafka's built-in providers ({FILE}, {ENV}, {DIR}); Volley runs no Java classes"
                    ),
                })
            }
        };
        let allowed = settings
            .get(&format!("config.providers.{name}.param.allowed.paths"))
            .map(|v| v.split(',').map(|p| PathBuf::from(p.trim())).collect());
        out.insert((*name).to_owned(), Provider { kind, allowed });
    }
    for key in settings.keys().filter(|k| *k != "config.providers") {
        let rest = key.strip_prefix("config.providers.").unwrap_or(key);
        let known = out.iter().any(|(name, p)| {
            rest.strip_prefix(name.as_str())
                .and_then(|r| r.strip_prefix('.'))
                .is_some_and(|setting| setting == "class" || (setting == "param.allowed.paths" && p.kind != Kind::Env))
        });
        if !known {
            return Err(ConfigError::InvalidValue {
                key: key.clone(),
                value: settings.get(key).cloned().unwrap_or_default(),
                allowed: format!(
                    "not a setting of a declared provider (config.providers declares {}; each takes .class, and the file and dir providers .param.allowed.paths)",
                    if names.is_empty() { "none".to_owned() } else { names.join(", ") }
                ),
            });
        }
    }
    Ok(out)
}

/// Resolves every `${...}` reference in the values of `props` with the providers
/// `settings` declare. `typed` gives the key each value was set under, for errors.
pub(super) fn resolve(
    props: &mut BTreeMap<&'static str, String>,
    settings: &BTreeMap<String, String>,
    typed: &BTreeMap<&'static str, String>,
) -> Result<(), ConfigError> {
    let providers = declared(settings)?;
    let mut cache: BTreeMap<PathBuf, Vec<(String, String)>> = BTreeMap::new();
    for (key, value) in props.iter_mut() {
        if !value.contains("${") {
            continue;
        }
        let shown_key = typed.get(key).map_or(*key, String::as_str);
        *value = substitute(shown_key, value, &providers, &mut cache)?;
    }
    Ok(())
}

/// `value` with each `${provider:[path:]key}` replaced. As in Kafka's `ConfigTransformer`,
/// only `${...}` with a `:` inside is a reference; other text (`${x`, `${x}`) is kept as it
/// is. Unlike Java, a reference to a provider that is not declared is an error.
fn substitute(
    key: &str,
    value: &str,
    providers: &BTreeMap<String, Provider>,
    cache: &mut BTreeMap<PathBuf, Vec<(String, String)>>,
) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let inner = &after[..end];
        let Some((name, tail)) = inner.split_once(':') else {
            // Not a reference: keep "${" and look further on.
            out.push_str(&rest[..start + 2]);
            rest = after;
            continue;
        };
        out.push_str(&rest[..start]);
        let reference = &rest[start..start + 2 + end + 1];
        let (path, item) = match tail.rsplit_once(':') {
            Some((p, k)) => (Some(p), k),
            None => (None, tail),
        };
        let Some(provider) = providers.get(name) else {
            return Err(error(
                key,
                reference,
                format!("no provider '{name}' is declared in config.providers"),
            ));
        };
        out.push_str(&lookup(key, reference, provider, path, item, cache)?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn check_allowed(key: &str, reference: &str, provider: &Provider, path: &Path) -> Result<(), ConfigError> {
    let Some(allowed) = &provider.allowed else {
        return Ok(());
    };
    let normal = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let path = normal(path);
    if allowed.iter().any(|a| path.starts_with(normal(a))) {
        Ok(())
    } else {
        Err(error(
            key,
            reference,
            "the path is not under the provider's allowed.paths",
        ))
    }
}

fn lookup(
    key: &str,
    reference: &str,
    provider: &Provider,
    path: Option<&str>,
    item: &str,
    cache: &mut BTreeMap<PathBuf, Vec<(String, String)>>,
) -> Result<String, ConfigError> {
    match provider.kind {
        Kind::Env => {
            if path.is_some_and(|p| !p.is_empty()) {
                return Err(error(
                    key,
                    reference,
                    "the env provider takes ${env:NAME}, without a path",
                ));
            }
            std::env::var(item).map_err(|_| error(key, reference, format!("environment variable '{item}' is not set")))
        }
        Kind::File => {
            let Some(path) = path.filter(|p| !p.is_empty()) else {
                return Err(error(key, reference, "the file provider takes ${file:PATH:KEY}"));
            };
            let path = PathBuf::from(path);
            check_allowed(key, reference, provider, &path)?;
            if !cache.contains_key(&path) {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| error(key, reference, format!("cannot read {}: {e}", path.display())))?;
                let entries = super::parse_properties(&text)
                    .map_err(|e| error(key, reference, format!("{}: {e}", path.display())))?;
                cache.insert(path.clone(), entries);
            }
            let entries = cache.get(&path).map(Vec::as_slice).unwrap_or_default();
            entries
                .iter()
                .rev()
                .find(|(k, _)| k == item)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| error(key, reference, format!("{} has no key '{item}'", path.display())))
        }
        Kind::Dir => {
            let Some(dir) = path.filter(|p| !p.is_empty()) else {
                return Err(error(key, reference, "the dir provider takes ${dir:DIRECTORY:FILE}"));
            };
            if item.contains('/') || item == ".." {
                return Err(error(key, reference, "the file name must not leave the directory"));
            }
            let file = Path::new(dir).join(item);
            check_allowed(key, reference, provider, &file)?;
            std::fs::read_to_string(&file)
                .map_err(|e| error(key, reference, format!("cannot read {}: {e}", file.display())))
        }
    }
}

/// Parses the text of a Java `.properties` file: `key=value`, `key: value` or `key value`,
/// `#` and `!` comments, lines continued by a trailing backslash, and the escapes `\t`,
/// `\n`, `\r`, `\f`, `\uXXXX` and `\` before any other character. Later keys win when
/// looked up by the caller; the order of the file is kept.
///
/// # Errors
/// A malformed `\u` escape, with its line number.
pub fn parse_properties(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    // Java's line terminators: \n, \r\n and a lone \r.
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut lines = text.split('\n').enumerate();
    while let Some((i, line)) = lines.next() {
        let first = line.trim_start();
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        // Join continuation lines (an odd number of trailing backslashes).
        let mut logical = first.to_owned();
        while logical.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1 {
            logical.pop();
            match lines.next() {
                Some((_, next)) => logical.push_str(next.trim_start()),
                None => break,
            }
        }
        let chars: Vec<char> = logical.chars().collect();
        let mut k = 0;
        while k < chars.len() && !matches!(chars[k], '=' | ':' | ' ' | '\t' | '\x0c') {
            k += if chars[k] == '\\' { 2 } else { 1 };
        }
        let k = k.min(chars.len());
        let key: String = chars[..k].iter().collect();
        let mut v = k;
        while v < chars.len() && matches!(chars[v], ' ' | '\t' | '\x0c') {
            v += 1;
        }
        if v < chars.len() && matches!(chars[v], '=' | ':') {
            v += 1;
        }
        while v < chars.len() && matches!(chars[v], ' ' | '\t' | '\x0c') {
            v += 1;
        }
        let value: String = chars[v..].iter().collect();
        let unescape = |s: &str| unescape(s).map_err(|e| format!("line {}: {e}", i + 1));
        // Trailing whitespace belongs to the value, as in Java.
        out.push((unescape(&key)?, unescape(&value)?));
    }
    Ok(out)
}

/// The four hex digits of a `\\u` escape.
fn hex_unit(chars: &mut std::str::Chars<'_>) -> Result<u32, String> {
    let hex: String = chars.by_ref().take(4).collect();
    u32::from_str_radix(&hex, 16)
        .ok()
        .filter(|_| hex.len() == 4)
        .ok_or_else(|| format!("malformed \\u escape '\\u{hex}'"))
}

/// The escapes of a properties file.
fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let first = hex_unit(&mut chars)?;
                // A UTF-16 surrogate pair is two escapes: \uD83D\uDE00.
                let code = if (0xD800..0xDC00).contains(&first) {
                    let rest: String = chars.clone().take(2).collect();
                    if rest != "\\u" {
                        return Err(format!("a lone UTF-16 surrogate \\u{first:04X}"));
                    }
                    chars.nth(1);
                    let second = hex_unit(&mut chars)?;
                    if !(0xDC00..0xE000).contains(&second) {
                        return Err(format!("a lone UTF-16 surrogate \\u{first:04X}"));
                    }
                    0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                } else {
                    first
                };
                out.push(char::from_u32(code).ok_or_else(|| format!("a lone UTF-16 surrogate \\u{code:04X}"))?);
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::ProducerConfig;

    fn build(props: &[(&str, String)]) -> Result<ProducerConfig, crate::config::ConfigError> {
        ProducerConfig::from_properties(props.iter().map(|(k, v)| (*k, v.as_str())))
    }

    /// `${file:path:key}`, `${env:NAME}` and `${dir:path:file}` are replaced, in any order
    /// of declaration; parts of a value around a reference are kept.
    #[test]
    fn file_env_and_dir_references_are_resolved() {
        let dir = tempfile::tempdir().expect("tempdir");
        let secrets = dir.path().join("secrets.properties");
        std::fs::write(&secrets, "# comment\nuser = alice\nlinger: 7\n").expect("write");
        std::fs::write(dir.path().join("client-id"), "from-dir").expect("write");
        std::env::set_var("VOLLEY_PROVIDER_TEST_BS", "127.0.0.1:9");
        let s = secrets.display().to_string();
        let d = dir.path().display().to_string();
        let c = build(&[
            ("linger.ms", format!("${{file:{s}:linger}}")),
            ("bootstrap.servers", "${env:VOLLEY_PROVIDER_TEST_BS}".into()),
            ("client.id", format!("pre-${{d:{d}:client-id}}-post")),
            ("config.providers", "file, env,d".into()),
            (
                "config.providers.file.class",
                "org.apache.kafka.common.config.provider.FileConfigProvider".into(),
            ),
            (
                "config.providers.env.class",
                "org.apache.kafka.common.config.provider.EnvVarConfigProvider".into(),
            ),
            (
                "config.providers.d.class",
                "org.apache.kafka.common.config.provider.DirectoryConfigProvider".into(),
            ),
        ])
        .expect("config");
        assert_eq!(c.linger, std::time::Duration::from_millis(7));
        assert_eq!(c.bootstrap_servers, vec!["127.0.0.1:9".to_owned()]);
        assert_eq!(c.client_id, "pre-from-dir-post");
    }

    /// Java's properties syntax: separators, comments, continuations, escapes.
    #[test]
    fn properties_files_parse_as_java_reads_them() {
        let text = "# c\n! c\n  a = 1 \nb:2\r\nc 3\rd=x\\\n   y\ne=\\u0041\\tz\nf\\=g=h\nempty=\nsmile=\\uD83D\\uDE00\nesc=x\\ \n";
        let got = super::parse_properties(text).expect("parse");
        let want: Vec<(String, String)> = [
            ("a", "1 "),
            ("b", "2"),
            ("c", "3"),
            ("d", "xy"),
            ("e", "A\tz"),
            ("f=g", "h"),
            ("empty", ""),
            ("smile", "\u{1F600}"),
            ("esc", "x "),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(got, want);
        assert!(super::parse_properties("a=\\u00zz").is_err());
        assert!(super::parse_properties("a=\\uD83Dx").is_err());
    }

    /// A reference that cannot be resolved is an error naming the key, never passed through.
    #[test]
    fn unresolved_references_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("p.properties");
        std::fs::write(&f, "a=1\n").expect("write");
        let file = || {
            vec![
                ("config.providers", "file".to_owned()),
                (
                    "config.providers.file.class",
                    "org.apache.kafka.common.config.provider.FileConfigProvider".to_owned(),
                ),
            ]
        };
        let with = |k: &'static str, v: String| {
            let mut p = file();
            p.push((k, v));
            build(&p).expect_err("unresolved").to_string()
        };
        let fp = f.display().to_string();
        let e = with("linger.ms", format!("${{file:{fp}:b}}"));
        assert!(e.contains("'linger.ms'") && e.contains("has no key 'b'"), "{e}");
        let e = with("linger.ms", "${file:/no/such/file:a}".into());
        assert!(e.contains("cannot read"), "{e}");
        let e = with("linger.ms", "${vault:secret/x:a}".into());
        assert!(e.contains("no provider 'vault'"), "{e}");
        let e = with("linger.ms", "${env:VOLLEY_SURELY_NOT_SET_1234}".into());
        assert!(e.contains("no provider 'env'"), "{e}");
        // Text that is not a reference is kept: no ':' inside, or no closing brace.
        for kept in ["team${x", "a${b}c", "${}"] {
            let mut p = file();
            p.push(("client.id", kept.to_owned()));
            p.push(("bootstrap.servers", "127.0.0.1:9".to_owned()));
            assert_eq!(build(&p).expect("kept").client_id, kept);
        }
        // Without any declared provider a reference is not resolved either.
        let e = build(&[("client.id", "${env:HOME}".into())]).expect_err("undeclared");
        assert!(e.to_string().contains("no provider 'env'"), "{e}");
        // An unknown class is refused.
        let e = build(&[
            ("config.providers", "v".into()),
            ("config.providers.v.class", "com.example.VaultProvider".into()),
        ])
        .expect_err("class");
        assert!(e.to_string().contains("built-in providers"), "{e}");
        let e = build(&[("config.providers", "v".into())]).expect_err("no class");
        assert!(e.to_string().contains("config.providers.v.class"), "{e}");
        // A mistyped setting, or one of a provider not declared, is an error (a typo in
        // allowed.paths must not lift the confinement).
        for (k, v) in [
            ("config.providers.file.param.allowed.path", "/tmp"),
            ("config.providers.fiel.class", "x"),
        ] {
            let mut p = file();
            p.push((k, v.to_owned()));
            let e = build(&p).expect_err("mistyped");
            assert!(e.to_string().contains(k), "{e}");
        }
    }

    /// `allowed.paths` confines the file provider (Kafka's `param.allowed.paths`).
    #[test]
    fn allowed_paths_confine_the_file_provider() {
        let dir = tempfile::tempdir().expect("tempdir");
        let inside = dir.path().join("in");
        std::fs::create_dir(&inside).expect("mkdir");
        std::fs::write(inside.join("p"), "a=5\n").expect("write");
        std::fs::write(dir.path().join("q"), "a=6\n").expect("write");
        let props = |file: &std::path::Path| {
            vec![
                ("config.providers", "file".to_owned()),
                (
                    "config.providers.file.class",
                    "org.apache.kafka.common.config.provider.FileConfigProvider".to_owned(),
                ),
                (
                    "config.providers.file.param.allowed.paths",
                    inside.display().to_string(),
                ),
                ("bootstrap.servers", "127.0.0.1:9".to_owned()),
                ("linger.ms", format!("${{file:{}:a}}", file.display())),
            ]
        };
        let c = build(&props(&inside.join("p"))).expect("inside");
        assert_eq!(c.linger, std::time::Duration::from_millis(5));
        let e = build(&props(&dir.path().join("q"))).expect_err("outside");
        assert!(e.to_string().contains("allowed.paths"), "{e}");
    }
}
