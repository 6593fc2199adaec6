//! A conservative estimate of how deeply a jq source nests, computed without recursion.
//!
//! jaq's lexer, parser and compiler recurse once per nesting level, with large frames (about
//! 12 KiB per `[` in debug builds), so `[[[[…]]]]` a few thousand levels deep overflows any
//! reasonable stack. Compilation therefore refuses sources whose estimate exceeds
//! [`MAX_NESTING`]. The estimate counts, along the path of enclosing brackets, strings and string
//! interpolations, one level per bracket plus one per token that may nest at its own bracket
//! level (keywords such as `if`/`try`/`reduce`/`def`, `as` bindings, right-associative
//! operators such as `|` and `|=`, and `-`). It over-counts (`.a - .b` counts one), never
//! under-counts.

/// Largest accepted nesting estimate.
pub(crate) const MAX_NESTING: usize = 200;

/// Keywords after which the parser may recurse without a bracket.
const NESTING_KEYWORDS: [&str; 7] = ["if", "try", "reduce", "foreach", "def", "label", "as"];

/// Whether the nesting estimate of `source` is at most [`MAX_NESTING`].
pub(crate) fn within_max_nesting(source: &str) -> bool {
    // One entry per open bracket, string or interpolation: the nesting counted at that level.
    let mut levels: Vec<Level> = vec![Level::code(0)];
    let mut chars = source.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        let Some(level) = levels.last_mut() else {
            return true; // Unbalanced closing bracket: the parser reports it.
        };
        let depth = level.depth;
        if level.in_string {
            match c {
                '\\' => match chars.next() {
                    Some((_, '(')) => levels.push(Level::code(depth + 1)),
                    _ => continue,
                },
                '"' => drop(levels.pop()),
                _ => continue,
            }
        } else {
            match c {
                '#' => {
                    while chars.next_if(|(_, c)| *c != '\n').is_some() {}
                    continue;
                }
                '"' => levels.push(Level::string(depth + 1)),
                '(' | '[' | '{' => levels.push(Level::code(depth + 1)),
                ')' | ']' | '}' => drop(levels.pop()),
                '|' | '=' | '-' => level.depth += 1,
                _ if c.is_ascii_alphabetic() || c == '_' => {
                    let mut end = start + c.len_utf8();
                    while let Some((i, c)) = chars.next_if(|(_, c)| c.is_ascii_alphanumeric() || *c == '_') {
                        end = i + c.len_utf8();
                    }
                    if NESTING_KEYWORDS.contains(&&source[start..end]) {
                        level.depth += 1;
                    }
                }
                _ => continue,
            }
        }
        if levels.last().is_some_and(|level| level.depth > MAX_NESTING) {
            return false;
        }
    }
    true
}

struct Level {
    /// Nesting counted up to here: enclosing levels plus tokens seen at this level.
    depth: usize,
    in_string: bool,
}

impl Level {
    fn code(depth: usize) -> Level {
        Level { depth, in_string: false }
    }

    fn string(depth: usize) -> Level {
        Level { depth, in_string: true }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_expressions() {
        for source in [
            ".a",
            r#"{ a: .x, b: [.items[] | select(.ok) | {id, "n": "\(.name)-\(.x | tostring)"}] }"#,
            "if .a then 1 elif .b then 2 else 3 end | . as $x | $x - 1",
            "# comment with ((((( and \"\n.a",
            r#""((((((((" | length"#,
        ] {
            assert!(within_max_nesting(source), "{source}");
        }
    }

    #[test]
    fn refuses_deep_nesting() {
        let n = MAX_NESTING + 1;
        for source in [
            format!("{}1{}", "[".repeat(n), "]".repeat(n)),
            format!("{}1", "-".repeat(n)),
            format!("{}1{}", "if true then ".repeat(n), " end".repeat(n)),
            format!("{}1", ". as $x | ".repeat(n)),
            format!("\"{}1{}\"", "\\(\"".repeat(n / 2), "\")".repeat(n / 2)),
        ] {
            assert!(!within_max_nesting(&source), "{source}");
        }
    }
}
