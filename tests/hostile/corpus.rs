//! Reads the hostile-input corpus (`tests/hostile/<family>/<case>`), shared by the integration
//! tests (`tests/integration/hostile.rs`), the property tests (`tests/properties.rs`) and, as
//! raw bytes, the fuzz targets' seed corpora (`fuzz/`).
//!
//! A case file is the input itself, after optional header lines starting with `#! `:
//! - `#! size=N fill=C` (`fill` defaults to `A`): `{{FILL}}` is repeated `C` so the input is N bytes
//!   (the 256 KB and 10 KB cases are generated, not committed);
//! - `#! edit=FROM=>TO`: the test's original value (`{{VALUE}}`) with FROM replaced by TO;
//! - `#! sign=…`, `#! upper-tag`: how the button and view families sign the result.
//!
//! `{{NAME}}` placeholders are filled from the test's variables (`PIPELINE`, `TAG`, …); an
//! unknown one stays as written.

use std::path::{Path, PathBuf};

/// One case of a family.
pub struct Case {
    /// `<family>/<file>`: what the assertions name.
    pub name: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// The corpus directory.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile")
}

/// Every case of `family`, by file name.
pub fn family(family: &str) -> Vec<Case> {
    let dir = root().join(family);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "corpus {} has cases", dir.display());
    paths
        .iter()
        .map(|path| {
            let name = format!(
                "{family}/{}",
                path.file_name().expect("file name").to_string_lossy()
            );
            Case::read(name, &std::fs::read(path).expect("read case"))
        })
        .collect()
}

impl Case {
    fn read(name: String, raw: &[u8]) -> Case {
        let mut headers = Vec::new();
        let mut rest = raw;
        while let Some(line) = rest.strip_prefix(b"#! ") {
            let end = line.iter().position(|&b| b == b'\n').unwrap_or(line.len());
            let header = String::from_utf8_lossy(&line[..end]).into_owned();
            // `edit=` takes the rest of its line; other headers are `key=value` words.
            let words: Vec<&str> = if header.starts_with("edit=") {
                vec![header.as_str()]
            } else {
                header.split_whitespace().collect()
            };
            for word in words {
                let (key, value) = word.split_once('=').unwrap_or((word, ""));
                headers.push((key.to_owned(), value.to_owned()));
            }
            rest = line.get(end + 1..).unwrap_or_default();
        }
        Case {
            name,
            headers,
            body: rest.to_vec(),
        }
    }

    /// The first header `key`'s value.
    pub fn header(&self, key: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The input's bytes with no placeholder filled (for the parsers of bytes).
    pub fn bytes(&self) -> &[u8] {
        &self.body
    }

    /// The case built on a real signed value `<tag>.<value>` (buttons, views): `{{TAG}}` and
    /// `{{VALUE}}` filled from it, the value edited as the `edit=` headers say (an edit that
    /// changes nothing fails the test), `upper-tag` applied. Signing it (`sign=`) is the
    /// caller's.
    pub fn forged(&self, signed: &str, vars: &[(&str, &str)]) -> String {
        let (tag, original) = signed.split_once('.').expect("a signed value");
        let value = self.headers.iter().filter(|(k, _)| k == "edit").fold(
            original.to_owned(),
            |value, (_, edit)| {
                let (from, to) = edit.split_once("=>").expect("edit=FROM=>TO");
                let edited = value.replace(&fill(from, vars), &fill(to, vars));
                assert_ne!(edited, value, "{}: the edit changed nothing", self.name);
                edited
            },
        );
        let mut all = vec![("TAG", tag), ("VALUE", value.as_str())];
        all.extend_from_slice(vars);
        let text = self.text(&all).expect("a text case");
        match text.split_once('.') {
            Some((tag, rest)) if self.header("upper-tag").is_some() => {
                format!("{}.{rest}", tag.to_uppercase())
            }
            _ => text,
        }
    }

    /// The input as text, placeholders and `{{FILL}}` filled; `None` when it is not UTF-8.
    pub fn text(&self, vars: &[(&str, &str)]) -> Option<String> {
        let text = fill(std::str::from_utf8(&self.body).ok()?, vars);
        let Some(size) = self.header("size") else {
            return Some(text);
        };
        let size: usize = size.parse().expect("size=N");
        let unit = self.header("fill").unwrap_or("A");
        let room = size.saturating_sub(text.len() - "{{FILL}}".len()) / unit.len();
        Some(text.replacen("{{FILL}}", &unit.repeat(room), 1))
    }
}

fn fill(text: &str, vars: &[(&str, &str)]) -> String {
    vars.iter().fold(text.to_owned(), |text, (name, value)| {
        text.replace(&format!("{{{{{name}}}}}"), value)
    })
}
