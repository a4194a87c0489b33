//! `-k EXPR` keyword expressions.
//!
//! A port of pytest's `_pytest/mark/expression.py` (pytest 9.2), evaluated the way
//! `KeywordMatcher` and `deselect_by_keyword` in `_pytest/mark/__init__.py` do: an
//! identifier is true when it is a case-insensitive substring of any of the item's names.
//!
//! Where this differs from pytest, and why:
//! - `ident(name=value, ...)` is parsed as pytest parses it (so malformed calls get
//!   pytest's syntax errors), but a well-formed call is then refused by [`KeywordExpr::parse`]
//!   with `KeywordMatcher`'s "Keyword expressions do not support call parameters.". pytest
//!   raises that only if evaluation happens to reach the call; `matches` returns a plain bool
//!   and cannot fail, so the refusal has to happen up front.
//! - Nesting deeper than `MAX_DEPTH` is an error rather than a Python `RecursionError`.
//! - `\w` is Rust's `char::is_alphanumeric` plus `_`, which accepts a few combining marks that
//!   Python's `re` does not.

use std::fmt;

/// Bounds the parser's recursion (and so the tree's depth, which `matches` and `Drop` recurse
/// over), so a hostile `-k "((((…"` is an error instead of a stack overflow.
const MAX_DEPTH: usize = 256;

/// `keyword.kwlist`: pytest refuses these as call-parameter names.
const PYTHON_KEYWORDS: [&str; 35] = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// A parsed `-k` expression.
#[derive(Debug, Clone)]
pub struct KeywordExpr {
    /// `None` for an empty expression, which pytest treats as "no `-k` given".
    root: Option<Node>,
}

/// A syntax error, reported like pytest's: `at column {column}: {message}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeywordError {
    /// 1-based, counted in characters from the first non-blank character of the expression
    /// (pytest lstrips `-k` before parsing it).
    pub column: usize,
    pub message: String,
}

impl KeywordError {
    fn new(column: usize, message: impl Into<String>) -> Self {
        Self {
            column,
            message: message.into(),
        }
    }
}

impl fmt::Display for KeywordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for KeywordError {}

impl KeywordExpr {
    /// Parses a `-k` expression.
    pub fn parse(input: &str) -> Result<KeywordExpr, KeywordError> {
        // deselect_by_keyword lstrips (with Python's notion of whitespace) and skips selection
        // entirely when nothing is left.
        let input = input.trim_start_matches(is_python_space);
        if input.is_empty() {
            return Ok(KeywordExpr { root: None });
        }
        let mut parser = Parser::new(input)?;
        let root = parser.expr()?;
        parser.expect(Kind::Eof)?;
        match parser.call_error {
            Some(error) => Err(error),
            None => Ok(KeywordExpr { root: Some(root) }),
        }
    }

    /// true when the expression selects an item whose names are `names`
    pub fn matches<S: AsRef<str>>(&self, names: &[S]) -> bool {
        let Some(root) = &self.root else {
            return true;
        };
        let names: Vec<String> = names.iter().map(|n| n.as_ref().to_lowercase()).collect();
        root.eval(&names)
    }
}

#[derive(Debug, Clone)]
enum Node {
    /// Stored lowercased, ready to be compared against lowercased names.
    Ident(String),
    Not(Box<Node>),
    // Chains are flat lists so `a or b or …` of any length adds no depth.
    And(Vec<Node>),
    Or(Vec<Node>),
}

impl Node {
    fn eval(&self, names: &[String]) -> bool {
        match self {
            Node::Ident(ident) => names.iter().any(|name| name.contains(ident.as_str())),
            Node::Not(inner) => !inner.eval(names),
            Node::And(terms) => terms.iter().all(|term| term.eval(names)),
            Node::Or(terms) => terms.iter().any(|term| term.eval(names)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    LParen,
    RParen,
    Or,
    And,
    Not,
    Ident,
    Eof,
    Equal,
    Str,
    Comma,
}

impl Kind {
    /// pytest's `TokenType` values, which its error messages quote verbatim.
    fn describe(self) -> &'static str {
        match self {
            Kind::LParen => "left parenthesis",
            Kind::RParen => "right parenthesis",
            Kind::Or => "or",
            Kind::And => "and",
            Kind::Not => "not",
            Kind::Ident => "identifier",
            Kind::Eof => "end of input",
            Kind::Equal => "=",
            Kind::Str => "string literal",
            Kind::Comma => ",",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: Kind,
    text: &'a str,
    column: usize,
}

/// Python's `str.isspace`, which is what `str.lstrip()` strips.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// `(\w|:|\+|-|\.|\[|\]|\\|/)`
fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | ':' | '+' | '-' | '.' | '[' | ']' | '\\' | '/')
}

/// An approximation of `str.isidentifier`, only used to pick pytest's error message.
fn is_python_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// Lexes on demand, like pytest's generator: a bad character after the first syntax error
/// must not be the error reported.
struct Lexer<'a> {
    input: &'a str,
    /// pytest's positions count characters; slicing `input` needs byte offsets.
    chars: Vec<(usize, char)>,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn new(input: &'a str) -> Self {
        Lexer {
            input,
            chars: input.char_indices().collect(),
            pos: 0,
        }
    }

    fn slice(&self, start: usize, end: usize) -> &'a str {
        let input = self.input;
        let byte = |pos: usize| self.chars.get(pos).map_or(input.len(), |&(b, _)| b);
        &input[byte(start)..byte(end)]
    }

    fn next_token(&mut self) -> Result<Token<'a>, KeywordError> {
        while let Some(&(_, c)) = self.chars.get(self.pos) {
            let start = self.pos;
            self.pos += 1;
            let kind = match c {
                // Only these two: pytest's lexer rejects any other whitespace inside.
                ' ' | '\t' => continue,
                '(' => Kind::LParen,
                ')' => Kind::RParen,
                '=' => Kind::Equal,
                ',' => Kind::Comma,
                '\'' | '"' => self.string(start, c)?,
                c if is_ident_char(c) => {
                    while self
                        .chars
                        .get(self.pos)
                        .is_some_and(|&(_, c)| is_ident_char(c))
                    {
                        self.pos += 1;
                    }
                    match self.slice(start, self.pos) {
                        "or" => Kind::Or,
                        "and" => Kind::And,
                        "not" => Kind::Not,
                        _ => Kind::Ident,
                    }
                }
                _ => {
                    return Err(KeywordError::new(
                        start + 1,
                        format!("unexpected character \"{c}\""),
                    ))
                }
            };
            return Ok(Token {
                kind,
                text: self.slice(start, self.pos),
                column: start + 1,
            });
        }
        Ok(Token {
            kind: Kind::Eof,
            text: "",
            column: self.chars.len() + 1,
        })
    }

    /// A quoted string starting at `start`, whose opening quote is already consumed.
    fn string(&mut self, start: usize, quote: char) -> Result<Kind, KeywordError> {
        let Some(len) = self.chars[self.pos..].iter().position(|&(_, c)| c == quote) else {
            return Err(KeywordError::new(
                start + 1,
                format!("closing quote \"{quote}\" is missing"),
            ));
        };
        let end = self.pos + len + 1;
        if let Some(offset) = self.chars[start..end].iter().position(|&(_, c)| c == '\\') {
            return Err(KeywordError::new(
                start + offset + 1,
                r#"escaping with "\" not supported in marker expression"#,
            ));
        }
        self.pos = end;
        Ok(Kind::Str)
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    current: Token<'a>,
    depth: usize,
    /// pytest only refuses call parameters while evaluating, i.e. after every syntax error
    /// in the whole expression has had its chance to be reported first.
    call_error: Option<KeywordError>,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Result<Self, KeywordError> {
        let mut lexer = Lexer::new(input);
        let current = lexer.next_token()?;
        Ok(Parser {
            lexer,
            current,
            depth: 0,
            call_error: None,
        })
    }

    fn accept(&mut self, kind: Kind) -> Result<Option<Token<'a>>, KeywordError> {
        if self.current.kind != kind {
            return Ok(None);
        }
        let token = self.current;
        if kind != Kind::Eof {
            self.current = self.lexer.next_token()?;
        }
        Ok(Some(token))
    }

    fn expect(&mut self, kind: Kind) -> Result<Token<'a>, KeywordError> {
        match self.accept(kind)? {
            Some(token) => Ok(token),
            None => Err(self.reject(&[kind])),
        }
    }

    fn reject(&self, expected: &[Kind]) -> KeywordError {
        let expected: Vec<&str> = expected.iter().map(|kind| kind.describe()).collect();
        KeywordError::new(
            self.current.column,
            format!(
                "expected {}; got {}",
                expected.join(" OR "),
                self.current.kind.describe()
            ),
        )
    }

    /// Runs `rule` one level deeper than `opener` (a `not` or `(`), which is blamed when
    /// that is too deep.
    fn nested(
        &mut self,
        opener: Token<'a>,
        rule: fn(&mut Self) -> Result<Node, KeywordError>,
    ) -> Result<Node, KeywordError> {
        if self.depth >= MAX_DEPTH {
            return Err(KeywordError::new(
                opener.column,
                "expression is nested too deeply",
            ));
        }
        self.depth += 1;
        let node = rule(self);
        self.depth -= 1;
        node
    }

    fn expr(&mut self) -> Result<Node, KeywordError> {
        let first = self.and_expr()?;
        if self.current.kind != Kind::Or {
            return Ok(first);
        }
        let mut terms = vec![first];
        while self.accept(Kind::Or)?.is_some() {
            terms.push(self.and_expr()?);
        }
        Ok(Node::Or(terms))
    }

    fn and_expr(&mut self) -> Result<Node, KeywordError> {
        let first = self.not_expr()?;
        if self.current.kind != Kind::And {
            return Ok(first);
        }
        let mut terms = vec![first];
        while self.accept(Kind::And)?.is_some() {
            terms.push(self.not_expr()?);
        }
        Ok(Node::And(terms))
    }

    fn not_expr(&mut self) -> Result<Node, KeywordError> {
        if let Some(not) = self.accept(Kind::Not)? {
            return Ok(Node::Not(Box::new(self.nested(not, Self::not_expr)?)));
        }
        if let Some(paren) = self.accept(Kind::LParen)? {
            let inner = self.nested(paren, Self::expr)?;
            self.expect(Kind::RParen)?;
            return Ok(inner);
        }
        if let Some(ident) = self.accept(Kind::Ident)? {
            if self.accept(Kind::LParen)?.is_some() {
                self.kwargs()?;
                self.expect(Kind::RParen)?;
                self.call_error.get_or_insert_with(|| {
                    KeywordError::new(
                        ident.column,
                        "Keyword expressions do not support call parameters.",
                    )
                });
            }
            return Ok(Node::Ident(ident.text.to_lowercase()));
        }
        Err(self.reject(&[Kind::Not, Kind::LParen, Kind::Ident]))
    }

    /// `name=value (, name=value)*` with pytest's checks, which only serve to give a malformed
    /// call the same error pytest gives it.
    fn kwargs(&mut self) -> Result<(), KeywordError> {
        loop {
            let name = self.expect(Kind::Ident)?;
            if !is_python_identifier(name.text) {
                return Err(KeywordError::new(
                    name.column,
                    format!("not a valid python identifier {}", name.text),
                ));
            }
            if PYTHON_KEYWORDS.contains(&name.text) {
                return Err(KeywordError::new(
                    name.column,
                    format!("unexpected reserved python keyword `{}`", name.text),
                ));
            }
            self.expect(Kind::Equal)?;
            if self.accept(Kind::Str)?.is_none() {
                let value = self.expect(Kind::Ident)?;
                let digits = value.text.strip_prefix('-').unwrap_or(value.text);
                let is_int = !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit());
                if !is_int && !["True", "False", "None"].contains(&value.text) {
                    return Err(KeywordError::new(
                        value.column,
                        format!("unexpected character/s \"{}\"", value.text),
                    ));
                }
            }
            if self.accept(Kind::Comma)?.is_none() {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Does `expr` select an item with these names?
    fn selects(expr: &str, names: &[&str]) -> bool {
        KeywordExpr::parse(expr)
            .unwrap_or_else(|e| panic!("{expr:?} should parse: {e}"))
            .matches(names)
    }

    /// The full error text pytest would print for `expr`.
    fn error(expr: &str) -> String {
        match KeywordExpr::parse(expr) {
            Ok(parsed) => panic!("{expr:?} should not parse, got {parsed:?}"),
            Err(e) => e.to_string(),
        }
    }

    /// Evaluates `expr` where the identifiers `true` and `false` have those values, like
    /// pytest's own test_mark_expression.py.
    fn truth(expr: &str) -> bool {
        selects(expr, &["true"])
    }

    #[test]
    fn empty_and_blank_expressions_select_everything() {
        for expr in ["", " ", "\t", "   \t ", "\n", " \u{a0}\u{1f}"] {
            assert!(selects(expr, &["test_a"]), "{expr:?}");
            assert!(selects(expr, &[]), "{expr:?}");
        }
    }

    #[test]
    fn boolean_semantics_match_pytest() {
        let cases = [
            ("true", true),
            ("false", false),
            ("not true", false),
            ("not false", true),
            ("not not true", true),
            ("not not false", false),
            ("true and true", true),
            ("true and false", false),
            ("false and true", false),
            ("true and true and true", true),
            ("true and true and false", false),
            ("true and true and not true", false),
            ("false or false", false),
            ("false or true", true),
            ("true or true", true),
            ("true or true or false", true),
            ("true and true or false", true),
            ("not true or true", true),
            ("(not true) or true", true),
            ("not (true or true)", false),
            ("true and true or false and false", true),
            ("true and (true or false) and false", false),
            ("true and (true or (not (not false))) and false", false),
        ];
        for (expr, expected) in cases {
            assert_eq!(truth(expr), expected, "{expr:?}");
        }
    }

    #[test]
    fn not_binds_tighter_than_and_which_binds_tighter_than_or() {
        // `true or false and false` is `true or (false and false)`, not `(true or false) and false`.
        assert!(truth("true or false and false"));
        assert!(!truth("(true or false) and false"));
        // `not false and false` is `(not false) and false`.
        assert!(!truth("not false and false"));
        assert!(truth("not (false and false)"));
        // `not true or true` is `(not true) or true`.
        assert!(truth("not true or true"));
        assert!(!truth("not (true or true)"));
        assert!(truth("false and false or true"));
        assert!(!truth("false and (false or true)"));
    }

    #[test]
    fn whitespace_and_parentheses_oddities() {
        assert!(truth("               true           "));
        assert!(truth("               ((((((true))))))           "));
        assert!(truth("     (         ((\t  (((true)))))  \t   \t)"));
        assert!(!truth("(     true     and   (((false))))"));
        assert!(truth("not not not not true"));
        assert!(!truth("not not not not not true"));
        assert!(truth("(true)or(false)"));
    }

    #[test]
    fn identifiers_are_case_insensitive_substrings_of_any_name() {
        let names = ["test_login", "TestAuth", "test_auth.py", "tests"];
        assert!(selects("login", &names));
        assert!(selects("LOGIN", &names));
        assert!(selects("auth", &names));
        assert!(selects("testauth", &names));
        assert!(selects("Auth.PY", &names));
        assert!(selects("t", &names));
        assert!(!selects("logout", &names));
        assert!(
            !selects("login_auth", &names),
            "must fit inside a single name"
        );
        assert!(selects("login and not logout", &names));
        assert!(!selects("login and logout", &names));
        assert!(!selects("anything", &[]));
        assert!(selects("not anything", &[]));
    }

    #[test]
    fn matches_accepts_owned_and_borrowed_names() {
        let expr = KeywordExpr::parse("beta").unwrap();
        assert!(expr.matches(&[String::from("Alpha"), String::from("BETA")]));
        assert!(expr.matches(&["alphabeta"]));
        assert!(!expr.matches::<&str>(&[]));
    }

    #[test]
    fn unicode_identifiers_compare_lowercased() {
        assert!(selects("ÉTÉ", &["test_été"]));
        assert!(selects("אבגד", &["aaאבגדcc"]));
        assert!(selects("straße", &["STRAßE"]));
    }

    #[test]
    fn identifiers_may_contain_punctuation_pytest_allows() {
        let names = [
            "test_x.py::TestA::test_b[1-2]",
            r"dir/sub\win",
            "a+b",
            "v1.2.3",
        ];
        for expr in [
            "test_x.py::TestA::test_b[1-2]",
            "py::testa",
            "[1-2]",
            "b[1",
            "dir/sub",
            r"sub\win",
            "a+b",
            "1.2",
            ".",
            ":",
        ] {
            assert!(selects(expr, &names), "{expr:?}");
        }
        for ident in [
            ".",
            "...",
            ":::",
            "a:::c",
            "a+-b",
            r"\nhe\\l\lo\n\t\rbye",
            "a/b",
            "אבגד",
            "aaאבגדcc",
            "a[bcd]",
            "1234",
            "1234abcd",
            "1234and",
            "1234or",
            "1234not",
            "notandor",
            "not_and_or",
            "not[and]or",
            "1234+5678",
            "123.232",
            "True",
            "False",
            "None",
            "if",
            "else",
            "while",
        ] {
            assert!(selects(ident, &[ident]), "{ident:?} selects itself");
            assert!(!selects(ident, &["~"]), "{ident:?} is a plain identifier");
        }
    }

    #[test]
    fn keywords_inside_words_are_identifiers() {
        assert!(selects("android", &["test_android"]));
        assert!(!selects("android", &["test_and"]));
        assert!(selects("order", &["test_order"]));
        assert!(selects("notable", &["notable_test"]));
        assert!(selects("not notable", &["test_x"]));
        assert!(selects("android and order", &["android_order"]));
        // Keywords are exactly the lowercase words.
        assert!(selects("NOT", &["test_not"]));
        assert!(selects("And", &["test_and"]));
        assert!(selects("OR", &["test_or"]));
        assert!(!selects("OR", &["test_x"]));
    }

    #[test]
    fn syntax_errors_match_pytest() {
        let expected_any = "expected not OR left parenthesis OR identifier";
        let cases = [
            (
                "a and",
                format!("at column 6: {expected_any}; got end of input"),
            ),
            (
                "(a",
                "at column 3: expected right parenthesis; got end of input".into(),
            ),
            (
                "a b",
                "at column 3: expected end of input; got identifier".into(),
            ),
            (
                "(",
                format!("at column 2: {expected_any}; got end of input"),
            ),
            (
                ")",
                format!("at column 1: {expected_any}; got right parenthesis"),
            ),
            (
                ") ",
                format!("at column 1: {expected_any}; got right parenthesis"),
            ),
            (
                "()",
                format!("at column 2: {expected_any}; got right parenthesis"),
            ),
            (
                "a )",
                "at column 3: expected end of input; got right parenthesis".into(),
            ),
            (
                "not",
                format!("at column 4: {expected_any}; got end of input"),
            ),
            (
                "not not",
                format!("at column 8: {expected_any}; got end of input"),
            ),
            (
                "(not)",
                format!("at column 5: {expected_any}; got right parenthesis"),
            ),
            ("and", format!("at column 1: {expected_any}; got and")),
            (
                "ident and",
                format!("at column 10: {expected_any}; got end of input"),
            ),
            (
                "ident and or",
                format!("at column 11: {expected_any}; got or"),
            ),
            (
                "ident ident",
                "at column 7: expected end of input; got identifier".into(),
            ),
            (
                "foo or",
                format!("at column 7: {expected_any}; got end of input"),
            ),
            ("foo or or", format!("at column 8: {expected_any}; got or")),
            ("or or", format!("at column 1: {expected_any}; got or")),
            ("not or", format!("at column 5: {expected_any}; got or")),
            (
                "a and ",
                format!("at column 7: {expected_any}; got end of input"),
            ),
            (
                "(a or b",
                "at column 8: expected right parenthesis; got end of input".into(),
            ),
        ];
        for (expr, expected) in cases {
            assert_eq!(error(expr), expected, "{expr:?}");
        }
    }

    #[test]
    fn unexpected_characters_are_reported_where_they_are() {
        assert_eq!(error("@"), r#"at column 1: unexpected character "@""#);
        assert_eq!(
            error("a and @b"),
            r#"at column 7: unexpected character "@""#
        );
        assert_eq!(error("a\nb"), "at column 2: unexpected character \"\n\"");
        assert_eq!(
            error("a\u{a0}b"),
            "at column 2: unexpected character \"\u{a0}\""
        );
        for c in [
            "^", "*", "&", "%", "$", "#", "@", "!", "~", "{", "}", "|", ";", "←",
        ] {
            assert_eq!(
                error(c),
                format!("at column 1: unexpected character \"{c}\"")
            );
        }
    }

    #[test]
    fn columns_count_characters_after_leading_whitespace() {
        // pytest lstrips `-k`, so leading blanks do not shift the column...
        assert_eq!(error("   @"), r#"at column 1: unexpected character "@""#);
        assert_eq!(
            error(" \t a b"),
            "at column 3: expected end of input; got identifier"
        );
        // ...and positions are characters, not bytes.
        assert_eq!(error("été @"), r#"at column 5: unexpected character "@""#);
        assert_eq!(
            error("été b"),
            "at column 5: expected end of input; got identifier"
        );
    }

    #[test]
    fn the_first_syntax_error_wins_over_later_bad_characters() {
        // pytest lexes lazily, so it never reaches the `@`.
        assert_eq!(
            error("a b @"),
            "at column 3: expected end of input; got identifier"
        );
        assert_eq!(
            error("(a b @"),
            "at column 4: expected right parenthesis; got identifier"
        );
    }

    #[test]
    fn mark_expression_tokens_give_pytest_errors() {
        assert_eq!(error("a=b"), "at column 2: expected end of input; got =");
        assert_eq!(error("a,b"), "at column 2: expected end of input; got ,");
        assert_eq!(
            error("'str'"),
            "at column 1: expected not OR left parenthesis OR identifier; got string literal"
        );
        assert_eq!(
            error("a or \"x y\""),
            "at column 6: expected not OR left parenthesis OR identifier; got string literal"
        );
        assert_eq!(
            error("'abc"),
            r#"at column 1: closing quote "'" is missing"#
        );
        assert_eq!(
            error(r#"a "b'"#),
            r#"at column 3: closing quote """ is missing"#
        );
        assert_eq!(
            error(r"'a\b'"),
            r#"at column 3: escaping with "\" not supported in marker expression"#
        );
    }

    #[test]
    fn call_parameters_are_refused() {
        let refused = "Keyword expressions do not support call parameters.";
        for expr in [
            "foo(x=1)",
            "foo(x='a b', y=-2, z=None)",
            "foo(a   =   1,b= 2,     c = 3)",
            "foo(x=True) or bar",
        ] {
            assert_eq!(error(expr), format!("at column 1: {refused}"), "{expr:?}");
        }
        assert_eq!(error("a or b(x=1)"), format!("at column 6: {refused}"));
        // A syntax error anywhere takes precedence, as pytest parses fully before evaluating.
        assert_eq!(
            error("foo(x=1) bar"),
            "at column 10: expected end of input; got identifier"
        );
    }

    #[test]
    fn malformed_call_parameters_give_pytest_errors() {
        let cases = [
            (
                "mark()",
                "at column 6: expected identifier; got right parenthesis",
            ),
            (
                "mark(True=False)",
                "at column 6: unexpected reserved python keyword `True`",
            ),
            (
                "mark(def=False)",
                "at column 6: unexpected reserved python keyword `def`",
            ),
            (
                "mark(valid=False, def=1)",
                "at column 19: unexpected reserved python keyword `def`",
            ),
            ("mark(1)", "at column 6: not a valid python identifier 1"),
            (
                "mark(var:=False",
                "at column 6: not a valid python identifier var:",
            ),
            ("mark(/=2)", "at column 6: not a valid python identifier /"),
            ("mark(var==", "at column 10: expected identifier; got ="),
            (
                "mark(var)",
                "at column 9: expected =; got right parenthesis",
            ),
            (
                "mark(var=none)",
                r#"at column 10: unexpected character/s "none""#,
            ),
            (
                "mark(var=1.1)",
                r#"at column 10: unexpected character/s "1.1""#,
            ),
            (
                "mark(empty_list=[])",
                r#"at column 17: unexpected character/s "[]""#,
            ),
            (
                "mark(var=')",
                r#"at column 10: closing quote "'" is missing"#,
            ),
            (
                r"mark(var='\hugo')",
                r#"at column 11: escaping with "\" not supported in marker expression"#,
            ),
            (
                "mark(a=1",
                "at column 9: expected right parenthesis; got end of input",
            ),
        ];
        for (expr, expected) in cases {
            assert_eq!(error(expr), expected, "{expr:?}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let opens = "(".repeat(10_000);
        assert_eq!(
            error(&opens),
            "at column 257: expression is nested too deeply"
        );
        let nots = format!("{}a", "not ".repeat(10_000));
        assert!(error(&nots).ends_with("expression is nested too deeply"));
        // Reasonable nesting still works.
        let deep = format!("{}true{}", "(".repeat(100), ")".repeat(100));
        assert!(truth(&deep));
    }

    #[test]
    fn long_chains_do_not_nest() {
        let chain = vec!["x"; 100_000].join(" or ");
        assert!(selects(&format!("{chain} or true"), &["true"]));
        assert!(!selects(&chain, &["true"]));
        let chain = vec!["true"; 100_000].join(" and ");
        assert!(selects(&chain, &["true"]));
    }

    #[test]
    fn error_type_is_usable() {
        let e = KeywordExpr::parse("a and").unwrap_err();
        assert_eq!(e.column, 6);
        assert_eq!(
            e.message,
            "expected not OR left parenthesis OR identifier; got end of input"
        );
        let boxed: Box<dyn std::error::Error> = Box::new(e.clone());
        assert_eq!(boxed.to_string(), e.to_string());
    }
}
