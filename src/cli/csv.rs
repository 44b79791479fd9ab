//! The little CSV that genred writes (`genred features`) and reads back
//! (`genred evaluate`): comma-separated, RFC 4180 quoting for fields that
//! need it. One module so the writer and the reader agree.

use std::borrow::Cow;

/// Quotes a field when it holds a comma, quote or line break. (File names
/// are passed through `record::display_path` first, so a row written by
/// genred never spans two lines, which line-by-line readers would split.)
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
}
