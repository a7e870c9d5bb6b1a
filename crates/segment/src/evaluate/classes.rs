//! Class definitions for label-map evaluation: `NAME=ids` or `NAME=labels.tsv`.
//!
//! * `bone=1,2,25-50`: label values and inclusive ranges, comma-separated.
//! * `bone=labels.tsv`: a TotalSegmentator-style table with a header naming the columns `id`,
//!   `name` and (for `bone`) `is_bone`. The class `bone` takes every id whose `is_bone` is 1;
//!   any other NAME takes the ids whose name equals NAME or starts with `NAME_`
//!   (`kidney` → `kidney_left`, `kidney_right`). Blank lines and `#` comments are skipped;
//!   any other malformed line is an error naming the line.

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Largest label value accepted (label maps are held as u16).
pub const MAX_LABEL: u32 = u16::MAX as u32;

/// Errors in class definitions.
#[derive(Debug, thiserror::Error)]
pub enum ClassError {
    /// The `NAME=ids` text itself is malformed (a command-line mistake).
    #[error("invalid class \"{spec}\": {reason}")]
    Syntax {
        /// The offending definition.
        spec: String,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// The label table could not be read.
    #[error("{path}: {source}")]
    Io {
        /// Table file.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The label table is malformed.
    #[error("{path}:{line}: {reason}")]
    Table {
        /// Table file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The table holds no id for the class.
    #[error("{path}: no label matches class \"{name}\" ({rule})")]
    NoMatch {
        /// Table file.
        path: PathBuf,
        /// Class name.
        name: String,
        /// The matching rule used.
        rule: &'static str,
    },
}

/// A set of label values (inclusive ranges, each within `0..=MAX_LABEL`, never containing 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabelSet {
    ranges: Vec<RangeInclusive<u32>>,
}

impl LabelSet {
    /// The set of the given ranges; 0 (background) is removed.
    pub fn from_ranges(ranges: impl IntoIterator<Item = RangeInclusive<u32>>) -> Self {
        let mut ranges: Vec<_> = ranges
            .into_iter()
            .map(|r| (*r.start()).max(1)..=*r.end())
            .filter(|r| !r.is_empty())
            .collect();
        ranges.sort_by_key(|r| *r.start());
        Self { ranges }
    }

    /// A set of one label value.
    pub fn single(label: u32) -> Self {
        Self::from_ranges([label..=label])
    }

    /// True when `label` is in the set.
    #[inline]
    pub fn contains(&self, label: u32) -> bool {
        self.ranges.iter().any(|r| r.contains(&label))
    }

    /// The ranges of the set, sorted by start.
    pub fn ranges(&self) -> &[RangeInclusive<u32>] {
        &self.ranges
    }
}

/// A named class: the label values that make it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelClass {
    /// Class name used in reports.
    pub name: String,
    /// Label values of the class.
    pub labels: LabelSet,
}

/// Parses one `NAME=ids` or `NAME=table.tsv` definition (see the module docs).
///
/// The value is read as a table when it names an existing file or ends in `.tsv`/`.txt`.
pub fn parse_class(spec: &str) -> Result<LabelClass, ClassError> {
    let syntax = |reason: String| ClassError::Syntax {
        spec: spec.to_string(),
        reason,
    };
    let (name, value) = spec
        .split_once('=')
        .ok_or_else(|| syntax("expected NAME=ids (e.g. bone=1,2,25-50) or NAME=labels.tsv".into()))?;
    let name = name.trim();
    let value = value.trim();
    if name.is_empty() || name.chars().any(char::is_whitespace) {
        return Err(syntax("the class name must be a non-empty word".into()));
    }
    if value.is_empty() {
        return Err(syntax("no label ids after '='".into()));
    }
    let path = Path::new(value);
    let looks_like_table = [".tsv", ".txt"]
        .iter()
        .any(|ext| value.to_ascii_lowercase().ends_with(ext));
    let labels = if looks_like_table || path.is_file() {
        table_class(path, name)?
    } else {
        parse_ids(value).map_err(syntax)?
    };
    Ok(LabelClass {
        name: name.to_string(),
        labels,
    })
}

fn parse_label(text: &str) -> Result<u32, String> {
    let value: u32 = text
        .trim()
        .parse()
        .map_err(|_| format!("\"{}\" is not a label value (a non-negative integer)", text.trim()))?;
    if value == 0 || value > MAX_LABEL {
        return Err(format!("label {value} is outside 1..={MAX_LABEL}"));
    }
    Ok(value)
}

/// Parses `1,2,25-50` into a label set.
fn parse_ids(value: &str) -> Result<LabelSet, String> {
    let ranges = value
        .split(',')
        .map(|part| match part.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi) = (parse_label(lo)?, parse_label(hi)?);
                if lo > hi {
                    return Err(format!("range {lo}-{hi} is empty"));
                }
                Ok(lo..=hi)
            }
            None => parse_label(part).map(|v| v..=v),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(LabelSet::from_ranges(ranges))
}

/// Reads the ids of class `name` from a TotalSegmentator-style label table.
fn table_class(path: &Path, name: &str) -> Result<LabelSet, ClassError> {
    let text = std::fs::read_to_string(path).map_err(|source| ClassError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let table_error = |line: usize, reason: String| ClassError::Table {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let (header_line, header) = lines
        .next()
        .ok_or_else(|| table_error(1, "the table is empty (expected a header: id, name, is_bone)".into()))?;
    let columns: Vec<&str> = header.split('\t').map(str::trim).collect();
    let column = |wanted: &str| columns.iter().position(|c| c.eq_ignore_ascii_case(wanted));
    let (Some(id_col), Some(name_col)) = (column("id"), column("name")) else {
        return Err(table_error(
            header_line,
            format!("the header {columns:?} lacks the tab-separated columns id and name"),
        ));
    };
    let by_bone = name.eq_ignore_ascii_case("bone");
    let bone_col = match (by_bone, column("is_bone")) {
        (true, None) => return Err(table_error(header_line, "class bone needs an is_bone column".into())),
        (_, col) => col,
    };
    let prefix = format!("{name}_");
    let mut ids = Vec::new();
    for (number, line) in lines {
        let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
        if fields.len() != columns.len() {
            return Err(table_error(
                number,
                format!(
                    "{} tab-separated fields where the header has {}",
                    fields.len(),
                    columns.len()
                ),
            ));
        }
        let id = parse_label(fields[id_col]).map_err(|reason| table_error(number, reason))?;
        let selected = match bone_col.filter(|_| by_bone) {
            Some(col) => match fields[col] {
                "1" => true,
                "0" => false,
                other => return Err(table_error(number, format!("is_bone is \"{other}\", expected 0 or 1"))),
            },
            None => fields[name_col] == name || fields[name_col].starts_with(&prefix),
        };
        if selected {
            ids.push(id..=id);
        }
    }
    if ids.is_empty() {
        return Err(ClassError::NoMatch {
            path: path.to_path_buf(),
            name: name.to_string(),
            rule: if by_bone {
                "is_bone = 1"
            } else {
                "name equal to the class or starting with it and '_'"
            },
        });
    }
    Ok(LabelSet::from_ranges(ids))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_lists_and_ranges() {
        let class = parse_class("bone=1, 3,25-27").expect("valid");
        assert_eq!(class.name, "bone");
        assert!(class.labels.contains(1) && class.labels.contains(26) && !class.labels.contains(2));
        for bad in [
            "bone",
            "=1",
            "bone=",
            "bone=x",
            "bone=5-2",
            "bone=0",
            "bone=70000",
            "a b=1",
        ] {
            assert!(matches!(parse_class(bad), Err(ClassError::Syntax { .. })), "{bad}");
        }
    }
}
