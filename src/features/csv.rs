//! The feature CSV: what `genred features` writes and `genred evaluate` (and the tests) read
//! back. Comma-separated, RFC 4180 quoting for the fields that need it, a header with
//! `filename`, the 28 [`Column`]s by name and maybe `label`. One module, so the writer and
//! the readers agree.

use std::borrow::Cow;
use std::io::{self, Write};

use super::columns::{Column, Features, N_FEATURES};

/// The first column: the file's name.
pub const FILENAME: &str = "filename";
/// The optional last column: the file's genre, for training and evaluation.
pub const LABEL: &str = "label";

/// Quotes a field when it holds a comma, quote or line break. (`genred features` passes file
/// names through `record::display_path` first, so a row it writes never spans two lines,
/// which line-by-line readers would split.)
pub fn field(text: &str) -> Cow<'_, str> {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\"")).into()
    } else {
        text.into()
    }
}

/// Splits one line into its fields, undoing [`field`]'s quoting; fields are trimmed.
pub fn split_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                current.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut current).trim().to_owned()),
            _ => current.push(c),
        }
    }
    fields.push(current.trim().to_owned());
    fields
}

/// Writes the header line: `filename`, the columns in the dataset's order, and `label` if
/// the rows have one.
pub fn write_header(out: &mut impl Write, labelled: bool) -> io::Result<()> {
    write!(out, "{FILENAME}")?;
    for column in Column::ALL {
        write!(out, ",{column}")?;
    }
    if labelled {
        write!(out, ",{LABEL}")?;
    }
    writeln!(out)
}

/// Writes one row: the name (quoted if need be), each value as its column's type says, and
/// the label if there is one.
pub fn write_row(
    out: &mut impl Write,
    filename: &str,
    features: &Features,
    label: Option<&str>,
) -> io::Result<()> {
    write!(out, "{}", field(filename))?;
    for (column, value) in features.columns() {
        write!(out, ",{}", column.display(value))?;
    }
    if let Some(label) = label {
        write!(out, ",{}", field(label))?;
    }
    writeln!(out)
}

/// Why a feature CSV could not be read. Line numbers count from 1.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TableError {
    #[error("empty file, expected a header with filename, the features and label")]
    Empty,
    #[error("header has no `{0}` column")]
    MissingColumn(String),
    #[error("line {line}: {fields} fields, the header has {header}")]
    FieldCount {
        line: usize,
        fields: usize,
        header: usize,
    },
    #[error("line {line}: `{column}` is not a number: {text:?}")]
    NotANumber {
        line: usize,
        column: Column,
        text: String,
    },
}

/// One row of a feature CSV.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureRow {
    pub filename: String,
    /// `None` when the table has no `label` column.
    pub label: Option<String>,
    pub features: Features,
}

/// A feature CSV, its columns found by name in any order (the dataset's `data.csv` has
/// them in its order, other tables may not); blank lines are skipped.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureTable {
    /// Whether the header has a `label` column.
    pub labelled: bool,
    pub rows: Vec<FeatureRow>,
}

impl FeatureTable {
    pub fn parse(text: &str) -> Result<Self, TableError> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty());
        let Some((_, header)) = lines.next() else {
            return Err(TableError::Empty);
        };
        let columns = split_line(header);
        let position = |name: &str| columns.iter().position(|c| c == name);
        let required =
            |name: &str| position(name).ok_or_else(|| TableError::MissingColumn(name.to_owned()));
        let filename_at = required(FILENAME)?;
        let label_at = position(LABEL);
        let mut feature_at = [0; N_FEATURES];
        for (at, column) in feature_at.iter_mut().zip(Column::ALL) {
            *at = required(column.name())?;
        }
        let rows = lines
            .map(|(index, line)| {
                let line_number = index + 1;
                let mut fields = split_line(line);
                if fields.len() != columns.len() {
                    return Err(TableError::FieldCount {
                        line: line_number,
                        fields: fields.len(),
                        header: columns.len(),
                    });
                }
                let mut features = Features([0.0; N_FEATURES]);
                for (&at, column) in feature_at.iter().zip(Column::ALL) {
                    let text = &fields[at];
                    features[column] = text.parse().map_err(|_| TableError::NotANumber {
                        line: line_number,
                        column,
                        text: text.clone(),
                    })?;
                }
                Ok(FeatureRow {
                    label: label_at.map(|at| std::mem::take(&mut fields[at])),
                    filename: std::mem::take(&mut fields[filename_at]),
                    features,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(FeatureTable {
            labelled: label_at.is_some(),
            rows,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        assert_eq!(field("blues.00000.wav"), "blues.00000.wav");
        assert_eq!(field("my song.wav"), "my song.wav");
        assert_eq!(field("a,b.wav"), "\"a,b.wav\"");
        assert_eq!(field("say \"hi\".wav"), "\"say \"\"hi\"\".wav\"");
    }

    #[test]
    fn what_is_written_splits_back() {
        let names = ["plain.wav", "a,b.wav", "say \"hi\", then go.wav", ""];
        let line: Vec<String> = names.iter().map(|n| field(n).into_owned()).collect();
        assert_eq!(split_line(&line.join(",")), names);
        assert_eq!(split_line(" 1.5 , 2 "), ["1.5", "2"]);
    }

    fn example() -> Features {
        let mut features = Features([0.0; N_FEATURES]);
        features[Column::TEMPO] = 129.19921875;
        features[Column::BEATS] = 62.0;
        features[Column::RMSE] = 0.24826228618621826;
        features[Column::MFCC20] = -1.5;
        features
    }

    #[test]
    fn rows_use_the_datasets_number_forms() {
        let mut row = Vec::new();
        write_row(&mut row, "a.wav", &example(), Some("rock")).unwrap();
        let row = String::from_utf8(row).unwrap();
        assert!(row.starts_with("a.wav,129.19921875,62,0.0,0.24826228618621826,0.0,"));
        assert!(row.ends_with(",0.0,-1.5,rock\n"), "{row}");
    }

    #[test]
    fn what_is_written_reads_back_with_columns_in_any_order() {
        let mut text = Vec::new();
        write_header(&mut text, true).unwrap();
        write_row(&mut text, "a,b.wav", &example(), Some("pop")).unwrap();
        let text = String::from_utf8(text).unwrap();
        let table = FeatureTable::parse(&text).unwrap();
        let expected = FeatureRow {
            filename: "a,b.wav".to_owned(),
            label: Some("pop".to_owned()),
            features: example(),
        };
        assert!(table.labelled);
        assert_eq!(table.rows, std::slice::from_ref(&expected));

        // The same table with its first two columns swapped, and no label.
        let swapped: String = text
            .lines()
            .map(|line| {
                let mut fields: Vec<String> = split_line(line)
                    .iter()
                    .map(|f| field(f).into_owned())
                    .collect();
                fields.swap(0, 1);
                fields.pop();
                fields.join(",") + "\n"
            })
            .collect();
        let table = FeatureTable::parse(&swapped).unwrap();
        assert!(!table.labelled);
        assert_eq!(table.rows[0].label, None);
        assert_eq!(table.rows[0].features, expected.features);
    }

    #[test]
    fn broken_tables_say_where() {
        assert_eq!(FeatureTable::parse("\n"), Err(TableError::Empty));
        assert_eq!(
            FeatureTable::parse("filename,tempo\n"),
            Err(TableError::MissingColumn("beats".to_owned()))
        );
        let mut text = Vec::new();
        write_header(&mut text, false).unwrap();
        let header = String::from_utf8(text).unwrap();
        let short = format!("{header}\na.wav,1\n");
        assert_eq!(
            FeatureTable::parse(&short).unwrap_err().to_string(),
            "line 3: 2 fields, the header has 29"
        );
        let values = vec!["1"; N_FEATURES - 1].join(",");
        let bad = format!("{header}a.wav,{values},x\n");
        assert_eq!(
            FeatureTable::parse(&bad).unwrap_err().to_string(),
            "line 2: `mfcc20` is not a number: \"x\""
        );
    }
}
