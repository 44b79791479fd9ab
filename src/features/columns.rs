//! The dataset's 28 columns by name. One table gives each column its place in the row, its
//! name in the CSV header and in a model's `feature_names`, and the type of its values, so
//! the extractor, `genred features`, `genred evaluate` and the model check all follow it
//! instead of keeping their own copies in order; [`Features`] is one clip's row of them.

use std::fmt;
use std::ops::{Index, IndexMut};

/// Number of features per clip.
pub const N_FEATURES: usize = 28;

/// One clip's 28 features, in the dataset's column order, indexed by [`Column`]: tempo in
/// BPM, beats as a count, then the means of the frame-wise features.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Features(pub [f64; N_FEATURES]);

impl Features {
    /// The values in [`FEATURE_NAMES`] order.
    pub fn as_array(&self) -> &[f64; N_FEATURES] {
        &self.0
    }

    /// Each column with its value, in the dataset's order.
    pub fn columns(&self) -> impl Iterator<Item = (Column, f64)> + '_ {
        Column::ALL.into_iter().map(|column| (column, self[column]))
    }
}

/// What a column's values are; it decides how a row is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    /// A whole number of things (beats), written as an integer: `34`, as the dataset has it.
    Count,
    /// A real number, written in its shortest round-trip form, as Python's `repr` does.
    Real,
}

/// One of the 28 columns, by its place in the dataset's row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Column(usize);

/// The table: each column's constant, header name and type, in the dataset's order. The
/// order of this list is the CSV contract; nothing else lists the columns.
macro_rules! columns {
    ($($constant:ident = $name:literal : $type:ident),* $(,)?) => {
        /// The columns' places, counted by the compiler from the table's order.
        #[allow(clippy::upper_case_acronyms, non_camel_case_types)]
        #[repr(usize)]
        enum Place { $($constant),* }

        impl Column {
            $(
                #[doc = concat!("`", $name, "`")]
                pub const $constant: Column = Column(Place::$constant as usize);
            )*
        }

        const TABLE: [(&str, ColumnType); N_FEATURES] = [$(($name, ColumnType::$type)),*];
    };
}

columns! {
    TEMPO = "tempo": Real,
    BEATS = "beats": Count,
    CHROMA_STFT = "chroma_stft": Real,
    RMSE = "rmse": Real,
    SPECTRAL_CENTROID = "spectral_centroid": Real,
    SPECTRAL_BANDWIDTH = "spectral_bandwidth": Real,
    ROLLOFF = "rolloff": Real,
    ZERO_CROSSING_RATE = "zero_crossing_rate": Real,
    MFCC1 = "mfcc1": Real,
    MFCC2 = "mfcc2": Real,
    MFCC3 = "mfcc3": Real,
    MFCC4 = "mfcc4": Real,
    MFCC5 = "mfcc5": Real,
    MFCC6 = "mfcc6": Real,
    MFCC7 = "mfcc7": Real,
    MFCC8 = "mfcc8": Real,
    MFCC9 = "mfcc9": Real,
    MFCC10 = "mfcc10": Real,
    MFCC11 = "mfcc11": Real,
    MFCC12 = "mfcc12": Real,
    MFCC13 = "mfcc13": Real,
    MFCC14 = "mfcc14": Real,
    MFCC15 = "mfcc15": Real,
    MFCC16 = "mfcc16": Real,
    MFCC17 = "mfcc17": Real,
    MFCC18 = "mfcc18": Real,
    MFCC19 = "mfcc19": Real,
    MFCC20 = "mfcc20": Real,
}

/// The number of MFCC columns, `mfcc1` to `mfcc20`.
pub const N_MFCC_COLUMNS: usize = N_FEATURES - Column::MFCC1.0;

/// The column names in the dataset's order: the `genred features` CSV header after
/// `filename`, and what a model's `feature_names` must say.
pub const FEATURE_NAMES: [&str; N_FEATURES] = {
    let mut names = [""; N_FEATURES];
    let mut i = 0;
    while i < N_FEATURES {
        names[i] = TABLE[i].0;
        i += 1;
    }
    names
};

impl Column {
    /// Every column, in the dataset's order.
    pub const ALL: [Column; N_FEATURES] = {
        let mut all = [Column(0); N_FEATURES];
        let mut i = 0;
        while i < N_FEATURES {
            all[i] = Column(i);
            i += 1;
        }
        all
    };

    /// The MFCC columns, `mfcc1` first.
    pub fn mfccs() -> impl Iterator<Item = Column> {
        (Column::MFCC1.0..N_FEATURES).map(Column)
    }

    /// The column of that header name, if the dataset has one.
    pub fn named(name: &str) -> Option<Column> {
        FEATURE_NAMES
            .iter()
            .position(|&known| known == name)
            .map(Column)
    }

    /// The name in the CSV header.
    pub fn name(self) -> &'static str {
        TABLE[self.0].0
    }

    pub fn value_type(self) -> ColumnType {
        TABLE[self.0].1
    }

    /// Where the column is in a row, from 0 (`filename` not counted).
    pub fn position(self) -> usize {
        self.0
    }

    /// `value` written as this column's type says.
    pub fn display(self, value: f64) -> impl fmt::Display {
        ColumnValue {
            value,
            value_type: self.value_type(),
        }
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

struct ColumnValue {
    value: f64,
    value_type: ColumnType,
}

impl fmt::Display for ColumnValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.value_type {
            // A count is whole by construction; the cast prints `34`, not `34.0`.
            ColumnType::Count => write!(f, "{}", self.value as u64),
            // Debug formatting is Rust's shortest round-trip form, like Python's repr.
            ColumnType::Real => write!(f, "{:?}", self.value),
        }
    }
}

impl Index<Column> for Features {
    type Output = f64;

    fn index(&self, column: Column) -> &f64 {
        &self.0[column.0]
    }
}

impl IndexMut<Column> for Features {
    fn index_mut(&mut self, column: Column) -> &mut f64 {
        &mut self.0[column.0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_the_datasets_header() {
        let header = "tempo,beats,chroma_stft,rmse,spectral_centroid,spectral_bandwidth,rolloff,\
            zero_crossing_rate,mfcc1,mfcc2,mfcc3,mfcc4,mfcc5,mfcc6,mfcc7,mfcc8,mfcc9,mfcc10,\
            mfcc11,mfcc12,mfcc13,mfcc14,mfcc15,mfcc16,mfcc17,mfcc18,mfcc19,mfcc20";
        assert_eq!(FEATURE_NAMES.join(","), header);
        let names: Vec<&str> = Column::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names, FEATURE_NAMES);
        assert_eq!(Column::named("beats"), Some(Column::BEATS));
        assert_eq!(Column::named("mfcc20"), Some(Column::MFCC20));
        assert_eq!(Column::named("label"), None);
        assert_eq!(Column::mfccs().count(), N_MFCC_COLUMNS);
        assert_eq!(N_MFCC_COLUMNS, 20);
    }

    #[test]
    fn only_beats_is_a_count_and_it_is_written_as_an_integer() {
        let counts: Vec<Column> = Column::ALL
            .into_iter()
            .filter(|c| c.value_type() == ColumnType::Count)
            .collect();
        assert_eq!(counts, [Column::BEATS]);
        assert_eq!(Column::BEATS.display(62.0).to_string(), "62");
        assert_eq!(
            Column::TEMPO.display(129.19921875).to_string(),
            "129.19921875"
        );
        assert_eq!(Column::RMSE.display(0.0).to_string(), "0.0");
    }

    #[test]
    fn features_are_indexed_by_column() {
        let mut features = Features([0.0; N_FEATURES]);
        features[Column::ROLLOFF] = 4321.5;
        assert_eq!(features.0[6], 4321.5);
        assert_eq!(features[Column::ROLLOFF], 4321.5);
    }
}
