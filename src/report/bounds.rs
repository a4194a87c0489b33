//! How much of a text a test controls each report carries.
//!
//! A test decides how long its failure message is: `assert False, "x" *
//! 10_000_000` makes a 10 MB message, and the traceback holds it again.
//! pytest prints it all, but whole it makes reports unusable: libxml2
//! (xmllint, and the parsers behind many CI dashboards) refuses an attribute
//! or a text node over 10,000,000 bytes, and a terminal log of a hundred
//! megabytes helps no one. So the terminal, JUnit, HTML and annotations keep
//! the head of such a text and say how much they left out and where the rest
//! is. The JSON report keeps every string whole: JSON parsers have no such
//! limit, and one report must hold everything a test gave.
//!
//! Caps count characters, so a cut never splits one (UTF-8 safe), and are
//! applied to text already made printable, so a cut never splits an escape.

use std::borrow::Cow;

/// A one-line summary: JUnit's `message` attributes, the terminal's
/// `FAILED … - message` lines, the HTML's summary, GitHub annotations.
/// Dashboards show it as a title, and show far less than this; a thousand
/// characters still holds the start of a long assertion's comparison.
pub const SUMMARY_CHARS: usize = 1_000;

/// A body in a report file: JUnit's tracebacks, skip details and
/// `<system-out>`, the HTML's tracebacks and output. At most 4 MB of UTF-8
/// (4 bytes a character), under libxml2's 10,000,000 bytes a node, and
/// thousands of frames: only a message this size makes a traceback longer.
pub const BODY_CHARS: usize = 1_000_000;

/// A traceback on the terminal: as much as the captured output it shows (its
/// last 64 KiB), hundreds of frames, more than anyone scrolls through.
pub const TERMINAL_CHARS: usize = 64 * 1024;

/// Where the whole text is, said by every cut of a body.
const WHOLE_TEXT: &str = "the JSON report (--json) has the whole text";

/// `text`, or its first [`SUMMARY_CHARS`] characters and
/// `… [cut: N more characters]`.
pub fn summary(text: &str) -> Cow<'_, str> {
    summary_within(text, SUMMARY_CHARS)
}

/// `text`, or its first `max` characters and then, on a line of its own,
/// `[cut: N more characters not shown; the JSON report (--json) has the
/// whole text]`. For reports on files [`BODY_CHARS`], for the terminal
/// [`TERMINAL_CHARS`].
pub fn body(text: &str, max: usize) -> Cow<'_, str> {
    match split(text, max) {
        None => Cow::Borrowed(text),
        Some((head, left)) => Cow::Owned(format!(
            "{head}\n[cut: {} not shown; {WHOLE_TEXT}]",
            more(left)
        )),
    }
}

fn summary_within(text: &str, max: usize) -> Cow<'_, str> {
    match split(text, max) {
        None => Cow::Borrowed(text),
        Some((head, left)) => Cow::Owned(format!("{head}… [cut: {}]", more(left))),
    }
}

fn more(characters: usize) -> String {
    let noun = if characters == 1 {
        "character"
    } else {
        "characters"
    };
    format!("{characters} more {noun}")
}

/// The first `max` characters of `text` and how many follow them, when any do.
fn split(text: &str, max: usize) -> Option<(&str, usize)> {
    // Cheap for short texts: no character can take less than a byte.
    if text.len() <= max {
        return None;
    }
    let (end, _) = text.char_indices().nth(max)?;
    Some((&text[..end], text[end..].chars().count()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_texts_are_kept_as_they_are() {
        assert!(matches!(summary("short"), Cow::Borrowed("short")));
        assert!(matches!(body("a\nb", 3), Cow::Borrowed("a\nb")));
        // Exactly the cap: nothing is cut, in bytes or characters.
        let full = "é".repeat(SUMMARY_CHARS);
        assert_eq!(summary(&full), full);
        assert_eq!(body("ééé", 3), "ééé");
    }

    #[test]
    fn summaries_end_with_what_was_cut() {
        assert_eq!(
            summary_within("abcdef", 4),
            "abcd… [cut: 2 more characters]"
        );
        let long = "x".repeat(SUMMARY_CHARS + 10);
        assert_eq!(
            summary(&long),
            format!("{}… [cut: 10 more characters]", "x".repeat(SUMMARY_CHARS))
        );
    }

    #[test]
    fn bodies_say_where_the_whole_text_is() {
        assert_eq!(
            body("line 1\nline 2\n", 9),
            "line 1\nli\n[cut: 5 more characters not shown; \
             the JSON report (--json) has the whole text]"
        );
    }

    #[test]
    fn cuts_count_characters_not_bytes() {
        // Two bytes each: a cut by bytes would split one.
        assert_eq!(
            body("éééé", 3),
            format!("ééé\n[cut: 1 more character not shown; {WHOLE_TEXT}]")
        );
        assert_eq!(summary_within("😀😀😀", 1), "😀… [cut: 2 more characters]");
        // Long in bytes, short in characters: kept.
        assert_eq!(summary_within("😀😀", 2), "😀😀");
    }
}
