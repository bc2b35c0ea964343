//! Java's `sasl.jaas.config`: one login module line, parsed with JAAS quoting rules.
//!
//! `org.apache.kafka.common.security.plain.PlainLoginModule required username="alice"
//! password="a \"quoted\" secret";` — a class name, a control flag, `key=value` options
//! (values quoted with `"` and `\` escapes, or bare tokens), and a final `;`.

use std::collections::BTreeMap;

use super::secret::Secret;

/// The login modules Volley understands, by the mechanism family they serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginModule {
    /// `org.apache.kafka.common.security.plain.PlainLoginModule`.
    Plain,
    /// `org.apache.kafka.common.security.scram.ScramLoginModule`.
    Scram,
    /// `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule`.
    OAuthBearer,
}

/// A parsed JAAS line. Option values are secrets (a password is one of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jaas {
    /// Which module.
    pub module: LoginModule,
    /// Its options.
    pub options: BTreeMap<String, Secret>,
}

/// Parses one JAAS login module line. Errors never quote option values.
///
/// # Errors
/// A syntax error or an unknown login module, described in words.
pub fn parse(text: &str) -> Result<Jaas, String> {
    let mut chars = text.trim().chars().peekable();
    let word = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut w = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() || c == '=' || c == ';' || c == '"' || c == '\'' {
                break;
            }
            w.push(c);
            chars.next();
        }
        w
    };
    let class = word(&mut chars);
    let module = match class.rsplit('.').next().unwrap_or("") {
        "PlainLoginModule" => LoginModule::Plain,
        "ScramLoginModule" => LoginModule::Scram,
        "OAuthBearerLoginModule" => LoginModule::OAuthBearer,
        "" => return Err("no login module class".into()),
        _ => {
            return Err(format!(
                "login module '{class}' is not supported (PlainLoginModule, ScramLoginModule and OAuthBearerLoginModule are)"
            ))
        }
    };
    let flag = word(&mut chars);
    if !matches!(flag.as_str(), "required" | "requisite" | "sufficient" | "optional") {
        return Err(format!(
            "expected a control flag (required, requisite, sufficient or optional) after '{class}'"
        ));
    }
    let mut options = BTreeMap::new();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.peek() {
            Some(';') => {
                chars.next();
                break;
            }
            None => return Err("the line does not end with ';'".into()),
            Some(_) => {}
        }
        let key = word(&mut chars);
        if key.is_empty() || chars.next() != Some('=') {
            // Never quote the text: it may be part of a password with a space in it.
            return Err(format!(
                "option {} is not key=value (quote a value that has spaces)",
                options.len() + 1
            ));
        }
        let mut value = String::new();
        // Java's JAAS parser (StreamTokenizer) takes "..." and '...' alike, with C escapes.
        if let Some(&quote @ ('"' | '\'')) = chars.peek() {
            chars.next();
            loop {
                match chars.next() {
                    Some(c) if c == quote => break,
                    Some('\\') => match chars.next() {
                        Some('n') => value.push('\n'),
                        Some('t') => value.push('\t'),
                        Some('r') => value.push('\r'),
                        Some('b') => value.push('\u{8}'),
                        Some('f') => value.push('\u{c}'),
                        Some(c) => value.push(c),
                        None => return Err(format!("unterminated quoted value of '{key}'")),
                    },
                    Some(c) => value.push(c),
                    None => return Err(format!("unterminated quoted value of '{key}'")),
                }
            }
        } else {
            value = word(&mut chars);
        }
        options.insert(key, Secret::new(value));
    }
    if chars.any(|c| !c.is_whitespace()) {
        return Err("text after the final ';' (only one login module is allowed)".into());
    }
    Ok(Jaas { module, options })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_with_quotes_and_escapes() {
        let j = parse(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="p;a \"q\" \\ s";"#,
        )
        .expect("parses");
        assert_eq!(j.module, LoginModule::Plain);
        assert_eq!(j.options["username"].expose(), "alice");
        assert_eq!(j.options["password"].expose(), r#"p;a "q" \ s"#);
    }

    /// Review of issue 12: Confluent Cloud's generated Java client.properties quotes with
    /// single quotes, which Java's parser takes; `\n` in a quoted value is a newline; an
    /// error never quotes the text of a malformed option (it may be a password).
    #[test]
    fn single_quotes_escapes_and_quiet_errors() {
        let j = parse(
            "org.apache.kafka.common.security.plain.PlainLoginModule required username='KEY' password='SEC\"RET';",
        )
        .expect("parses");
        assert_eq!(j.options["username"].expose(), "KEY");
        assert_eq!(j.options["password"].expose(), "SEC\"RET");
        let j = parse(r#"x.PlainLoginModule required username="a\nb" password='it\'s';"#).expect("parses");
        assert_eq!(j.options["username"].expose(), "a\nb");
        assert_eq!(j.options["password"].expose(), "it's");
        let e = parse("x.PlainLoginModule required username=u password=my secret;").expect_err("unquoted space");
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn scram_bare_values() {
        let j = parse("org.apache.kafka.common.security.scram.ScramLoginModule required\n username=bob password=pw ;")
            .expect("parses");
        assert_eq!(j.module, LoginModule::Scram);
        assert_eq!(j.options["username"].expose(), "bob");
    }

    #[test]
    fn errors_are_clear_and_never_quote_values() {
        let e = parse(r#"com.sun.security.auth.module.Krb5LoginModule required password="hunter2";"#).unwrap_err();
        assert!(e.contains("Krb5LoginModule") && e.contains("not supported"), "{e}");
        let e = parse(r#"x.PlainLoginModule required password="hunter2""#).unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        let e = parse(r#"x.PlainLoginModule required password="hunter2"#).unwrap_err();
        assert!(!e.contains("hunter2") && e.contains("unterminated"), "{e}");
        assert!(parse("x.PlainLoginModule sometimes;").is_err());
    }
}
