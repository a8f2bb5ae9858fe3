//! Loading labelled TSV files (header line first). The kind of set is told by its header:
//! `label<TAB>text` (classification), `label<TAB>text_a<TAB>text_b` (pairs, label 0/1) or
//! `score<TAB>text` (intensity regression).

use std::path::Path;

use crate::TriageError;

#[derive(Debug, Clone)]
pub enum Dataset {
    Classification(Vec<(String, String)>),
    Pairs(Vec<(bool, String, String)>),
    Intensity(Vec<(f32, String)>),
}

impl Dataset {
    pub fn len(&self) -> usize {
        match self {
            Dataset::Classification(v) => v.len(),
            Dataset::Pairs(v) => v.len(),
            Dataset::Intensity(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Dataset::Classification(_) => "classification",
            Dataset::Pairs(_) => "pairs",
            Dataset::Intensity(_) => "intensity",
        }
    }
}

pub fn load(path: &Path) -> Result<Dataset, TriageError> {
    let text = std::fs::read_to_string(path).map_err(|source| TriageError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text, &path.display().to_string())
}

pub fn parse(text: &str, name: &str) -> Result<Dataset, TriageError> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("").trim_end_matches('\r');
    let err = |line: usize, message: String| TriageError::Data {
        path: name.to_owned(),
        line,
        message,
    };
    let cols: Vec<&str> = header.split('\t').collect();
    let body = lines.enumerate().filter(|(_, l)| !l.trim().is_empty());
    match cols.as_slice() {
        ["label", "text"] => {
            let mut v = Vec::new();
            for (i, l) in body {
                let mut it = l.trim_end_matches('\r').splitn(2, '\t');
                match (it.next(), it.next()) {
                    (Some(a), Some(b)) => v.push((a.to_owned(), b.to_owned())),
                    _ => return Err(err(i + 2, "expected label<TAB>text".into())),
                }
            }
            Ok(Dataset::Classification(v))
        }
        ["label", "text_a", "text_b"] => {
            let mut v = Vec::new();
            for (i, l) in body {
                let f: Vec<&str> = l.trim_end_matches('\r').splitn(3, '\t').collect();
                match f.as_slice() {
                    [y, a, b] => {
                        let y = match y.trim() {
                            "1" => true,
                            "0" => false,
                            other => return Err(err(i + 2, format!("label {other:?} is not 0/1"))),
                        };
                        v.push((y, (*a).to_owned(), (*b).to_owned()));
                    }
                    _ => return Err(err(i + 2, "expected label<TAB>text_a<TAB>text_b".into())),
                }
            }
            Ok(Dataset::Pairs(v))
        }
        ["score", "text"] => {
            let mut v = Vec::new();
            for (i, l) in body {
                let mut it = l.trim_end_matches('\r').splitn(2, '\t');
                match (it.next().map(|s| s.trim().parse::<f32>()), it.next()) {
                    (Some(Ok(s)), Some(t)) => v.push((s, t.to_owned())),
                    _ => return Err(err(i + 2, "expected score<TAB>text".into())),
                }
            }
            Ok(Dataset::Intensity(v))
        }
        _ => Err(err(1, format!("unknown header {header:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_decide_the_kind() {
        let c = parse("label\ttext\npayment\t扣了两次钱\n", "x");
        assert!(matches!(c, Ok(Dataset::Classification(ref v)) if v.len() == 1));
        let p = parse("label\ttext_a\ttext_b\n1\ta\tb\n0\tc\td\n", "x");
        assert!(matches!(p, Ok(Dataset::Pairs(ref v)) if v.len() == 2 && v[0].0));
        let s = parse("score\ttext\n-1.5\tbad\n", "x");
        assert!(matches!(s, Ok(Dataset::Intensity(ref v)) if v[0].0 == -1.5));
        assert!(parse("foo\tbar\n", "x").is_err());
        assert!(parse("label\ttext_a\ttext_b\n2\ta\tb\n", "x").is_err());
    }
}
