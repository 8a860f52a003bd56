//! A reader for the part of bash that Habitat plans use to declare a package: top-level
//! assignments (`key=value`, quoted values, `+=`, `name[key]=value`, indexed and associative
//! arrays over several lines), `declare`/`typeset`/`export`/`readonly` of such assignments,
//! comments, and `$name` / `${name}` references to variables the plan set earlier (plus the
//! `pkg_svc_*_path` variables and `PLAN_CONTEXT` that Habitat's build provides).
//!
//! It never runs anything. Function definitions (`do_build() { ... }`, `function f { ... }`)
//! are skipped whole, heredocs and nested quotes included. A value that needs a real shell
//! (command substitution, arithmetic, `${x:-y}`, an unknown variable) does not fail the read:
//! the variable is recorded as unresolved with its line and reason, and only becomes an error
//! if the package reader asks for it. A top-level command (`source`, `if`, a function call)
//! is an error at once, because it could change anything. Errors carry a 1-based line.
//!
//! Known gaps: `case` patterns inside `$( )` (their unbalanced `)`), an unquoted `}` inside a
//! function body (e.g. `echo }`), `<<` as a shift inside `$(( ))` (taken for a heredoc),
//! aliases, and `eval`. None of these occur outside functions in real plans.

use std::collections::{HashMap, HashSet};

/// A value the reader could compute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Value {
    /// `name=value`.
    Scalar(String),
    /// `name=(a b c)`.
    Indexed(Vec<String>),
    /// `name=([k]=v ...)`, in assignment order, later keys replacing earlier ones.
    Assoc(Vec<(String, String)>),
}

/// Why a value could not be computed without a shell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Unresolved {
    /// Line of the construct that needs the shell.
    pub(crate) line: usize,
    /// What it is, e.g. "command substitution `$(...)`".
    pub(crate) what: String,
}

/// One variable as the plan left it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Var {
    /// Line of the (last) assignment.
    pub(crate) line: usize,
    /// The value, or why it cannot be known.
    pub(crate) value: Result<Value, Unresolved>,
}

/// A failure to read the script at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ShError {
    /// Not valid shell, or a shape this reader does not know.
    Syntax { line: usize, message: String },
    /// A top-level construct that only a shell could evaluate.
    NeedsShell { line: usize, what: String },
}

/// Variables Habitat's build declares associative before it sources a plan.
const ASSOC_BY_DEFAULT: [&str; 3] = ["pkg_exports", "pkg_binds", "pkg_binds_optional"];

/// Reads `text` (a `plan.sh`) and returns its variables. `plan_context` is what
/// `$PLAN_CONTEXT` expands to.
pub(crate) fn parse(text: &str, plan_context: &str) -> Result<HashMap<String, Var>, ShError> {
    let mut p = Parser {
        src: text.chars().collect(),
        pos: 0,
        line: 1,
        vars: HashMap::new(),
        assoc: ASSOC_BY_DEFAULT.iter().map(|s| (*s).to_owned()).collect(),
        plan_context: plan_context.to_owned(),
        heredocs: Vec::new(),
        nesting: 0,
    };
    p.script()?;
    Ok(p.vars)
}

type Word = Result<String, Unresolved>;

struct Parser {
    src: Vec<char>,
    pos: usize,
    line: usize,
    vars: HashMap<String, Var>,
    assoc: HashSet<String>,
    plan_context: String,
    /// Heredoc delimiters seen on the current line: (word, strip leading tabs).
    heredocs: Vec<(String, bool)>,
    /// Current depth of nested `$(`, `${` and bodies, bounded by [`MAX_NESTING`].
    nesting: usize,
}

/// How deeply `$( ${ ... } )` may nest before the reader gives up (no real plan comes close;
/// the bound keeps a hostile file from exhausting the stack).
const MAX_NESTING: usize = 64;

fn is_name_start(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_name_char(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric()
}

/// Characters that end an unquoted word.
fn ends_word(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\n' | '\r' | ';' | '&' | '|' | '<' | '>' | '(' | ')'
    )
}

fn ends_subscript(c: char) -> bool {
    c == ']' || ends_word(c)
}

fn syntax<T>(line: usize, message: impl Into<String>) -> Result<T, ShError> {
    Err(ShError::Syntax {
        line,
        message: message.into(),
    })
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.src.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.src.get(self.pos + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.bump();
            true
        } else {
            false
        }
    }

    /// Spaces, tabs and backslash-newline continuations.
    fn skip_blanks(&mut self) {
        loop {
            match self.peek() {
                Some(' ' | '\t' | '\r') => {
                    self.bump();
                }
                Some('\\') if self.peek_at(1) == Some('\n') => {
                    self.bump();
                    self.bump();
                }
                _ => return,
            }
        }
    }

    fn skip_comment(&mut self) {
        while let Some(c) = self.peek() {
            if c == '\n' {
                return;
            }
            self.bump();
        }
    }

    /// Blanks, newlines and comments (between statements or array elements).
    fn skip_space_and_comments(&mut self) {
        loop {
            self.skip_blanks();
            match self.peek() {
                Some('\n') => {
                    self.bump();
                }
                Some('#') => self.skip_comment(),
                _ => return,
            }
        }
    }

    fn read_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek().filter(|c| is_name_char(*c)) {
            name.push(c);
            self.bump();
        }
        name
    }

    /// Whether the input at the cursor is `name=`, `name+=` or `name[`.
    fn at_assignment(&self) -> bool {
        if !self.peek().is_some_and(is_name_start) {
            return false;
        }
        let mut i = self.pos;
        while self.src.get(i).is_some_and(|c| is_name_char(*c)) {
            i += 1;
        }
        match self.src.get(i) {
            Some('=') | Some('[') => true,
            Some('+') => self.src.get(i + 1) == Some(&'='),
            _ => false,
        }
    }

    fn script(&mut self) -> Result<(), ShError> {
        loop {
            self.skip_space_and_comments();
            while self.eat(';') {
                self.skip_space_and_comments();
            }
            let Some(c) = self.peek() else {
                return Ok(());
            };
            let line = self.line;
            if !is_name_start(c) {
                return self.top_level_command(line);
            }
            if self.at_assignment() {
                self.assignments(line)?;
                continue;
            }
            let start = self.pos;
            let word = self.read_name();
            let after_name = self.peek();
            match word.as_str() {
                "function" if matches!(after_name, Some(' ' | '\t')) => {
                    self.skip_blanks();
                    let name = self.read_name();
                    if name.is_empty() {
                        return syntax(line, "`function` without a name");
                    }
                    self.skip_blanks();
                    if self.eat('(') {
                        self.skip_blanks();
                        if !self.eat(')') {
                            return syntax(line, format!("expected `()` after `function {name}`"));
                        }
                    }
                    self.function_body(line, &name)?;
                    continue;
                }
                "declare" | "typeset" | "export" | "readonly" | "local" => {
                    self.declaration(line, &word)?;
                    continue;
                }
                _ => {}
            }
            self.skip_blanks();
            if self.eat('(') {
                self.skip_blanks();
                if self.eat(')') {
                    self.function_body(line, &word)?;
                    continue;
                }
            }
            self.pos = start;
            self.line = line;
            return self.top_level_command(line);
        }
    }

    fn top_level_command(&mut self, line: usize) -> Result<(), ShError> {
        let mut shown = String::new();
        while let Some(c) = self.peek().filter(|c| *c != '\n') {
            shown.push(c);
            self.bump();
        }
        let shown = shown.trim();
        let shown = match shown.char_indices().nth(40) {
            Some((i, _)) => format!("{}...", &shown[..i]),
            None => shown.to_owned(),
        };
        Err(ShError::NeedsShell {
            line,
            what: format!("the top-level command `{shown}`"),
        })
    }

    /// After `name()` or `function name`: skip the body, whatever it holds.
    fn function_body(&mut self, line: usize, name: &str) -> Result<(), ShError> {
        self.skip_space_and_comments();
        match self.bump() {
            Some('{') => self.skip_balanced('{', '}', line)?,
            Some('(') => self.skip_balanced('(', ')', line)?,
            _ => return syntax(line, format!("function `{name}` has no `{{ ... }}` body")),
        }
        self.end_of_statement(line)
    }

    /// What may follow a complete statement on its line.
    fn end_of_statement(&mut self, line: usize) -> Result<(), ShError> {
        self.skip_blanks();
        match self.peek() {
            None | Some('\n' | ';' | '#') => Ok(()),
            Some(_) => self.top_level_command(line),
        }
    }

    /// One or more assignments on a line (`a=1 b=2`).
    fn assignments(&mut self, line: usize) -> Result<(), ShError> {
        loop {
            let name = self.read_name();
            self.assignment(line, name)?;
            self.skip_blanks();
            match self.peek() {
                None | Some('\n' | ';' | '#') => return Ok(()),
                _ if self.at_assignment() => continue,
                _ => return self.top_level_command(line),
            }
        }
    }

    fn declaration(&mut self, line: usize, keyword: &str) -> Result<(), ShError> {
        let mut assoc = None;
        loop {
            self.skip_blanks();
            match self.peek() {
                None | Some('\n' | ';' | '#') => return Ok(()),
                Some('-' | '+') => {
                    let mut flags = String::new();
                    while let Some(c) = self.peek().filter(|c| !ends_word(*c)) {
                        flags.push(c);
                        self.bump();
                    }
                    if flags.contains(['f', 'F', 'p']) {
                        return Err(ShError::NeedsShell {
                            line,
                            what: format!("`{keyword} {flags}`"),
                        });
                    }
                    if flags.starts_with('-') && flags.contains('A') {
                        assoc = Some(true);
                    } else if flags.starts_with('-') && flags.contains('a') {
                        assoc = Some(false);
                    }
                }
                Some(c) if is_name_start(c) => {
                    if self.at_assignment() {
                        let name = self.read_name();
                        if assoc == Some(true) {
                            self.assoc.insert(name.clone());
                        }
                        self.assignment(line, name)?;
                    } else {
                        let name = self.read_name();
                        if !self.peek().is_none_or(ends_word) {
                            return self.top_level_command(line);
                        }
                        if assoc == Some(true) {
                            self.assoc.insert(name.clone());
                        }
                        if let Some(is_assoc) = assoc
                            && !self.vars.contains_key(&name)
                        {
                            let value = if is_assoc {
                                Value::Assoc(Vec::new())
                            } else {
                                Value::Indexed(Vec::new())
                            };
                            self.vars.insert(
                                name,
                                Var {
                                    line,
                                    value: Ok(value),
                                },
                            );
                        }
                    }
                }
                Some(_) => return self.top_level_command(line),
            }
        }
    }

    /// At `[key]=`, `+=`, `=` after a name.
    fn assignment(&mut self, line: usize, name: String) -> Result<(), ShError> {
        let subscript = if self.eat('[') {
            let key = self.word(ends_subscript)?;
            if !self.eat(']') {
                return syntax(line, format!("`{name}[` without a closing `]`"));
            }
            Some(key)
        } else {
            None
        };
        let append = self.eat('+');
        if !self.eat('=') {
            return syntax(line, format!("expected `=` after `{name}`"));
        }
        let is_assoc = self.assoc.contains(&name);
        let new = if let Some(key) = subscript {
            let value = self.word(ends_word)?;
            self.element(&name, line, key, value, append)
        } else if self.peek() == Some('(') {
            self.bump();
            let value = self.array(line, is_assoc)?;
            if append {
                self.append(&name, value)
            } else {
                value
            }
        } else {
            let value = self.word(ends_word)?.map(Value::Scalar);
            if append {
                self.append(&name, value)
            } else {
                value
            }
        };
        self.vars.insert(name, Var { line, value: new });
        Ok(())
    }

    /// `name[key]=value`.
    fn element(
        &self,
        name: &str,
        line: usize,
        key: Word,
        value: Word,
        append: bool,
    ) -> Result<Value, Unresolved> {
        let (key, value) = (key?, value?);
        let existing = match self.vars.get(name) {
            Some(var) => Some(var.value.clone()?),
            None => None,
        };
        if self.assoc.contains(name) {
            let mut pairs = match existing {
                Some(Value::Assoc(p)) => p,
                None => Vec::new(),
                Some(_) => {
                    return Err(Unresolved {
                        line,
                        what: format!("`{name}[{key}]=` on a variable that is not an array"),
                    });
                }
            };
            let value = match (append, pairs.iter().find(|(k, _)| *k == key)) {
                (true, Some((_, old))) => format!("{old}{value}"),
                _ => value,
            };
            pairs.retain(|(k, _)| *k != key);
            pairs.push((key, value));
            return Ok(Value::Assoc(pairs));
        }
        let Ok(index) = key.parse::<usize>() else {
            return Err(Unresolved {
                line,
                what: format!("the subscript `[{key}]` of the indexed array `{name}`"),
            });
        };
        let mut items = match existing {
            Some(Value::Indexed(v)) => v,
            Some(Value::Scalar(s)) => vec![s],
            None => Vec::new(),
            Some(Value::Assoc(_)) => {
                return Err(Unresolved {
                    line,
                    what: format!("`{name}[{key}]=` on an associative array"),
                });
            }
        };
        if items.len() <= index {
            items.resize(index + 1, String::new());
        }
        if let Some(slot) = items.get_mut(index) {
            if append {
                slot.push_str(&value);
            } else {
                *slot = value;
            }
        }
        Ok(Value::Indexed(items))
    }

    /// `name+=value` / `name+=(...)`.
    fn append(&self, name: &str, new: Result<Value, Unresolved>) -> Result<Value, Unresolved> {
        let new = new?;
        let Some(old) = self.vars.get(name) else {
            return Ok(new);
        };
        let line = old.line;
        Ok(match (old.value.clone()?, new) {
            (Value::Scalar(a), Value::Scalar(b)) => Value::Scalar(a + &b),
            (Value::Scalar(a), Value::Indexed(b)) => {
                Value::Indexed(std::iter::once(a).chain(b).collect())
            }
            (Value::Indexed(mut a), Value::Scalar(b)) => {
                match a.first_mut() {
                    Some(first) => first.push_str(&b),
                    None => a.push(b),
                }
                Value::Indexed(a)
            }
            (Value::Indexed(mut a), Value::Indexed(b)) => {
                a.extend(b);
                Value::Indexed(a)
            }
            (Value::Assoc(mut a), Value::Assoc(b)) => {
                for (k, v) in b {
                    a.retain(|(old, _)| *old != k);
                    a.push((k, v));
                }
                Value::Assoc(a)
            }
            _ => {
                return Err(Unresolved {
                    line,
                    what: format!("`{name}+=` mixing an associative array with other values"),
                });
            }
        })
    }

    /// The elements of `( ... )`, after the `(`.
    fn array(&mut self, line: usize, is_assoc: bool) -> Result<Result<Value, Unresolved>, ShError> {
        let mut plain: Vec<Word> = Vec::new();
        let mut keyed: Vec<(Word, Word)> = Vec::new();
        loop {
            self.skip_space_and_comments();
            match self.peek() {
                None => return syntax(line, "array `(` is never closed with `)`"),
                Some(')') => {
                    self.bump();
                    break;
                }
                Some('[') => {
                    let at = self.line;
                    self.bump();
                    let key = self.word(ends_subscript)?;
                    if !self.eat(']') || !self.eat('=') {
                        return syntax(at, "array element `[key]` must be followed by `=`");
                    }
                    let value = self.word(ends_word)?;
                    keyed.push((key, value));
                }
                Some(c) if ends_word(c) => {
                    return syntax(self.line, format!("unexpected `{c}` inside an array"));
                }
                Some(_) => plain.push(self.word(ends_word)?),
            }
        }
        let value = if is_assoc {
            if !plain.is_empty() {
                return Ok(Err(Unresolved {
                    line,
                    what: "an associative array element without a `[key]=`".to_owned(),
                }));
            }
            let mut pairs: Vec<(String, String)> = Vec::new();
            for (k, v) in keyed {
                let (k, v) = match (k, v) {
                    (Ok(k), Ok(v)) => (k, v),
                    (Err(e), _) | (_, Err(e)) => return Ok(Err(e)),
                };
                pairs.retain(|(old, _)| *old != k);
                pairs.push((k, v));
            }
            Value::Assoc(pairs)
        } else {
            if !keyed.is_empty() {
                return Ok(Err(Unresolved {
                    line,
                    what: "`[key]=` elements in an array that is not declared with `declare -A`"
                        .to_owned(),
                }));
            }
            match plain.into_iter().collect::<Result<Vec<_>, _>>() {
                Ok(items) => Value::Indexed(items),
                Err(e) => return Ok(Err(e)),
            }
        };
        Ok(Ok(value))
    }

    /// One shell word, up to a character `end` accepts (outside quotes). Quotes are removed
    /// and known variables substituted; anything else that needs a shell makes it unresolved.
    fn word(&mut self, end: fn(char) -> bool) -> Result<Word, ShError> {
        let mut out = String::new();
        let mut unresolved = None;
        while let Some(c) = self.peek() {
            if end(c) {
                break;
            }
            match c {
                '\\' => {
                    self.bump();
                    match self.bump() {
                        None => out.push('\\'),
                        Some('\n') => {}
                        Some(e) => out.push(e),
                    }
                }
                '\'' => self.single_quoted(&mut out)?,
                '"' => self.double_quoted(&mut out, &mut unresolved)?,
                '$' => self.dollar(&mut out, &mut unresolved, false)?,
                '`' => self.backticks(&mut unresolved)?,
                _ => {
                    out.push(c);
                    self.bump();
                }
            }
        }
        Ok(match unresolved {
            Some(u) => Err(u),
            None => Ok(out),
        })
    }

    fn single_quoted(&mut self, out: &mut String) -> Result<(), ShError> {
        let line = self.line;
        self.bump();
        loop {
            match self.bump() {
                None => return syntax(line, "`'` is never closed"),
                Some('\'') => return Ok(()),
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quoted(
        &mut self,
        out: &mut String,
        unresolved: &mut Option<Unresolved>,
    ) -> Result<(), ShError> {
        let line = self.line;
        self.bump();
        loop {
            match self.peek() {
                None => return syntax(line, "`\"` is never closed"),
                Some('"') => {
                    self.bump();
                    return Ok(());
                }
                Some('\\') => {
                    self.bump();
                    match self.bump() {
                        None => return syntax(line, "`\"` is never closed"),
                        Some('\n') => {}
                        Some(c @ ('$' | '`' | '"' | '\\')) => out.push(c),
                        Some(c) => {
                            out.push('\\');
                            out.push(c);
                        }
                    }
                }
                Some('$') => self.dollar(out, unresolved, true)?,
                Some('`') => self.backticks(unresolved)?,
                Some(c) => {
                    out.push(c);
                    self.bump();
                }
            }
        }
    }

    fn backticks(&mut self, unresolved: &mut Option<Unresolved>) -> Result<(), ShError> {
        let line = self.line;
        self.bump();
        loop {
            match self.bump() {
                None => return syntax(line, "`` ` `` is never closed"),
                Some('\\') => {
                    self.bump();
                }
                Some('`') => break,
                Some(_) => {}
            }
        }
        unresolved.get_or_insert(Unresolved {
            line,
            what: "command substitution `` `...` ``".to_owned(),
        });
        Ok(())
    }

    /// At a `$`.
    fn dollar(
        &mut self,
        out: &mut String,
        unresolved: &mut Option<Unresolved>,
        in_double_quotes: bool,
    ) -> Result<(), ShError> {
        let line = self.line;
        self.bump();
        match self.peek() {
            Some('{') => {
                self.bump();
                let start = self.pos;
                self.skip_parameter(line)?;
                let inner: String = self
                    .src
                    .get(start..self.pos.saturating_sub(1))
                    .unwrap_or_default()
                    .iter()
                    .collect();
                if !inner.is_empty()
                    && inner.starts_with(is_name_start)
                    && inner.chars().all(is_name_char)
                {
                    self.substitute(&inner, line, out, unresolved);
                } else {
                    unresolved.get_or_insert(Unresolved {
                        line,
                        what: format!("the parameter expansion `${{{inner}}}`"),
                    });
                }
            }
            Some('(') => {
                self.bump();
                let arithmetic = self.peek() == Some('(');
                self.skip_balanced('(', ')', line)?;
                unresolved.get_or_insert(Unresolved {
                    line,
                    what: if arithmetic {
                        "arithmetic expansion `$((...))`".to_owned()
                    } else {
                        "command substitution `$(...)`".to_owned()
                    },
                });
            }
            Some(c) if is_name_start(c) => {
                let name = self.read_name();
                self.substitute(&name, line, out, unresolved);
            }
            Some(c) if c.is_ascii_digit() || "@*#?$!-".contains(c) => {
                self.bump();
                unresolved.get_or_insert(Unresolved {
                    line,
                    what: format!("the special parameter `${c}`"),
                });
            }
            Some('\'') if !in_double_quotes => {
                self.bump();
                loop {
                    match self.bump() {
                        None => return syntax(line, "`$'` is never closed"),
                        Some('\\') => {
                            self.bump();
                        }
                        Some('\'') => break,
                        Some(_) => {}
                    }
                }
                unresolved.get_or_insert(Unresolved {
                    line,
                    what: "ANSI-C quoting `$'...'`".to_owned(),
                });
            }
            // `$"..."` is a translatable string; without a catalogue it is just "...".
            Some('"') if !in_double_quotes => {}
            _ => out.push('$'),
        }
        Ok(())
    }

    fn substitute(
        &self,
        name: &str,
        line: usize,
        out: &mut String,
        unresolved: &mut Option<Unresolved>,
    ) {
        match self.lookup(name, line) {
            Ok(v) => out.push_str(&v),
            Err(u) => {
                unresolved.get_or_insert(u);
            }
        }
    }

    /// The scalar value of `$name` at `line`.
    fn lookup(&self, name: &str, line: usize) -> Result<String, Unresolved> {
        if let Some(var) = self.vars.get(name) {
            return match &var.value {
                Ok(Value::Scalar(s)) => Ok(s.clone()),
                Ok(Value::Indexed(items)) => Ok(items.first().cloned().unwrap_or_default()),
                Ok(Value::Assoc(pairs)) => Ok(pairs
                    .iter()
                    .find(|(k, _)| k == "0")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()),
                Err(u) => Err(Unresolved {
                    line,
                    what: format!("`${name}` (set on line {} from {})", u.line, u.what),
                }),
            };
        }
        let svc_dir = match name {
            "PLAN_CONTEXT" => return Ok(self.plan_context.clone()),
            "pkg_svc_path" => "",
            "pkg_svc_config_path" => "/config",
            "pkg_svc_data_path" => "/data",
            "pkg_svc_files_path" => "/files",
            "pkg_svc_static_path" => "/static",
            "pkg_svc_var_path" => "/var",
            "pkg_prefix" => {
                return Err(Unresolved {
                    line,
                    what: "`$pkg_prefix` (the installed package's directory, which only a build \
                           creates)"
                        .to_owned(),
                });
            }
            _ => {
                return Err(Unresolved {
                    line,
                    what: format!("`${name}`, which plan.sh does not set before this line,"),
                });
            }
        };
        // Habitat's build sources the plan again once it knows pkg_name, so these are known
        // even before pkg_name's own line; here they need pkg_name to have been read already.
        match self.vars.get("pkg_name").map(|v| &v.value) {
            Some(Ok(Value::Scalar(pkg))) => Ok(format!("/hab/svc/{pkg}{svc_dir}")),
            _ => Err(Unresolved {
                line,
                what: format!("`${name}` before `pkg_name` is set"),
            }),
        }
    }

    /// Skips to the `close` matching an `open` that was just consumed, through quotes,
    /// comments, `$(...)`, `${...}` and heredocs.
    fn skip_balanced(&mut self, open: char, close: char, line: usize) -> Result<(), ShError> {
        self.skip_nested(open, close, line, true)
    }

    /// Skips the rest of a `${...}` expansion, where `#` is an operator, never a comment.
    fn skip_parameter(&mut self, line: usize) -> Result<(), ShError> {
        self.skip_nested('{', '}', line, false)
    }

    fn skip_nested(
        &mut self,
        open: char,
        close: char,
        line: usize,
        comments: bool,
    ) -> Result<(), ShError> {
        if self.nesting >= MAX_NESTING {
            return syntax(line, format!("nesting deeper than {MAX_NESTING} levels"));
        }
        self.nesting += 1;
        let result = self.skip_nested_inner(open, close, line, comments);
        self.nesting -= 1;
        result
    }

    fn skip_nested_inner(
        &mut self,
        open: char,
        close: char,
        line: usize,
        comments: bool,
    ) -> Result<(), ShError> {
        let mut depth = 1usize;
        let mut prev = open;
        let mut scratch = String::new();
        let mut ignored = None;
        loop {
            let Some(c) = self.peek() else {
                return syntax(line, format!("`{open}` is never closed with `{close}`"));
            };
            match c {
                '\\' => {
                    self.bump();
                    self.bump();
                }
                '\'' => self.single_quoted(&mut scratch)?,
                '"' => self.double_quoted(&mut scratch, &mut ignored)?,
                '`' => self.backticks(&mut ignored)?,
                '$' => {
                    let at = self.line;
                    self.bump();
                    match self.peek() {
                        Some('{') => {
                            self.bump();
                            self.skip_parameter(at)?;
                        }
                        Some('(') => {
                            self.bump();
                            self.skip_balanced('(', ')', at)?;
                        }
                        Some('\'') => {
                            self.pos -= 1;
                            self.dollar(&mut scratch, &mut ignored, false)?;
                        }
                        Some('#' | '$' | '"' | '`' | '\\') => {
                            self.bump();
                        }
                        _ => {}
                    }
                }
                '#' if comments && (prev.is_whitespace() || ";&|(){}".contains(prev)) => {
                    self.skip_comment()
                }
                '<' if self.peek_at(1) == Some('<') => {
                    self.bump();
                    self.bump();
                    if !self.eat('<') {
                        self.heredoc_start()?;
                    }
                }
                '\n' => {
                    self.bump();
                    self.heredoc_bodies(line)?;
                }
                _ => {
                    self.bump();
                    if c == open {
                        depth += 1;
                    } else if c == close {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(());
                        }
                    }
                }
            }
            prev = self
                .pos
                .checked_sub(1)
                .and_then(|i| self.src.get(i))
                .copied()
                .unwrap_or(' ');
            scratch.clear();
        }
    }

    /// After `<<`: the optional `-` and the delimiter word (quotes removed).
    fn heredoc_start(&mut self) -> Result<(), ShError> {
        let line = self.line;
        let strip_tabs = self.eat('-');
        self.skip_blanks();
        let mut delimiter = String::new();
        while let Some(c) = self.peek().filter(|c| !ends_word(*c)) {
            self.bump();
            if !matches!(c, '\'' | '"' | '\\') {
                delimiter.push(c);
            }
        }
        if delimiter.is_empty() {
            return syntax(line, "`<<` without a heredoc delimiter");
        }
        self.heredocs.push((delimiter, strip_tabs));
        Ok(())
    }

    /// At the start of a line: skip the bodies of the heredocs opened on the previous line.
    fn heredoc_bodies(&mut self, line: usize) -> Result<(), ShError> {
        for (delimiter, strip_tabs) in std::mem::take(&mut self.heredocs) {
            loop {
                if self.peek().is_none() {
                    return syntax(line, format!("heredoc `{delimiter}` is never terminated"));
                }
                let mut text = String::new();
                while let Some(c) = self.bump() {
                    if c == '\n' {
                        break;
                    }
                    text.push(c);
                }
                let text = if strip_tabs {
                    text.trim_start_matches('\t')
                } else {
                    &text
                };
                if text.trim_end_matches('\r') == delimiter {
                    break;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn vars(text: &str) -> HashMap<String, Var> {
        parse(text, "/plans/x").unwrap()
    }

    fn get(vars: &HashMap<String, Var>, name: &str) -> Result<Value, Unresolved> {
        vars.get(name).expect(name).value.clone()
    }

    fn scalar(s: &str) -> Result<Value, Unresolved> {
        Ok(Value::Scalar(s.to_owned()))
    }

    #[test]
    fn scalars_quotes_and_substitution() {
        let v = vars(
            "pkg_name=redis\n\
             pkg_origin='core' # trailing comment\n\
             pkg_version=\"7.2.4\"\n\
             pkg_source=\"http://x/${pkg_name}-$pkg_version.tar.gz\"\n\
             a=one b='two words'; c=$'x'\n\
             d=pre\\ fix\"$pkg_name\"'$pkg_name'\n\
             e=\"a\\\"b\\$c\\n\"\n\
             f=\n\
             g=x#y\n\
             h=$\n",
        );
        assert_eq!(get(&v, "pkg_origin"), scalar("core"));
        assert_eq!(get(&v, "pkg_source"), scalar("http://x/redis-7.2.4.tar.gz"));
        assert_eq!(get(&v, "b"), scalar("two words"));
        assert!(get(&v, "c").is_err());
        assert_eq!(get(&v, "d"), scalar("pre fixredis$pkg_name"));
        assert_eq!(get(&v, "e"), scalar("a\"b$c\\n"));
        assert_eq!(get(&v, "f"), scalar(""));
        assert_eq!(get(&v, "g"), scalar("x#y"));
        assert_eq!(get(&v, "h"), scalar("$"));
        assert_eq!(v["pkg_version"].line, 3);
    }

    #[test]
    fn arrays_multi_line_with_comments() {
        let v = vars(
            "pkg_exports=(\n  [port]=port   # the port\n  [host]=\"srv.host\"\n)\n\
             pkg_binds=( [backend]=\"port host\" )\n\
             pkg_exposes=(port)\n\
             pkg_deps=(\n  core/glibc\n  # core/old\n  core/openssl\n)\n\
             pkg_deps+=(core/zlib)\n\
             pkg_binds_optional[db]=port\n\
             declare -A extra=([a]=b)\n\
             export FOO=bar\n",
        );
        assert_eq!(
            get(&v, "pkg_exports"),
            Ok(Value::Assoc(vec![
                ("port".into(), "port".into()),
                ("host".into(), "srv.host".into())
            ]))
        );
        assert_eq!(
            get(&v, "pkg_binds"),
            Ok(Value::Assoc(vec![("backend".into(), "port host".into())]))
        );
        assert_eq!(
            get(&v, "pkg_exposes"),
            Ok(Value::Indexed(vec!["port".into()]))
        );
        assert_eq!(
            get(&v, "pkg_deps"),
            Ok(Value::Indexed(vec![
                "core/glibc".into(),
                "core/openssl".into(),
                "core/zlib".into()
            ]))
        );
        assert_eq!(
            get(&v, "pkg_binds_optional"),
            Ok(Value::Assoc(vec![("db".into(), "port".into())]))
        );
        assert_eq!(
            get(&v, "extra"),
            Ok(Value::Assoc(vec![("a".into(), "b".into())]))
        );
        assert_eq!(get(&v, "FOO"), scalar("bar"));
        assert_eq!(v["pkg_exports"].line, 1);
        assert_eq!(v["pkg_binds"].line, 5);
    }

    #[test]
    fn functions_are_skipped_whole() {
        let v = vars(concat!(
            "pkg_name=x\n",
            "do_build() {\n",
            "  local v=\"$(grep '}' file | sed -e 's/{//')\"\n",
            "  # a comment with } and {\n",
            "  echo \"${#pkg_deps[@]} } $( echo ')' )\"\n",
            "  cat > conf <<-'EOF'\n",
            "\t} unbalanced { and ' quote\n",
            "\tEOF\n",
            "  if [[ -n \"$x\" ]]; then { echo a; }; fi\n",
            "}\n",
            "function do_install {\n  return 0\n}\n",
            "do_strip() { return 0; }\n",
            "do_check()\n{\n  make test\n}\n",
            "pkg_version=1.0\n",
        ));
        assert_eq!(get(&v, "pkg_version"), scalar("1.0"));
        assert_eq!(v["pkg_version"].line, 19);
        assert!(!v.contains_key("v"));
    }

    #[test]
    fn shell_only_values_are_deferred_with_their_line() {
        let v = vars(concat!(
            "pkg_name=x\n",
            "pkg_description=\"$(cat <<EOF\n",
            "It's got an apostrophe ) and a paren\n",
            "EOF\n",
            ")\"\n",
            "pkg_version=$(date +%s)\n",
            "later=\"v$pkg_version\"\n",
            "unknown=$HOME/x\n",
            "svc=\"$pkg_svc_config_path/redis.conf\"\n",
            "ctx=${PLAN_CONTEXT}/x\n",
            "param=${pkg_name:-y}\n",
        ));
        let d = get(&v, "pkg_description").unwrap_err();
        assert_eq!(d.line, 2);
        assert!(d.what.contains("command substitution"), "{d:?}");
        assert_eq!(get(&v, "pkg_version").unwrap_err().line, 6);
        let later = get(&v, "later").unwrap_err();
        assert_eq!(later.line, 7);
        assert!(later.what.contains("line 6"), "{later:?}");
        assert!(get(&v, "unknown").unwrap_err().what.contains("$HOME"));
        assert_eq!(get(&v, "svc"), scalar("/hab/svc/x/config/redis.conf"));
        assert_eq!(get(&v, "ctx"), scalar("/plans/x/x"));
        assert!(
            get(&v, "param")
                .unwrap_err()
                .what
                .contains("${pkg_name:-y}")
        );
    }

    #[test]
    fn top_level_commands_and_syntax_errors_name_their_line() {
        let cases: [(&str, usize, bool); 9] = [
            ("pkg_name=x\nsource ../base/plan.sh\n", 2, true),
            ("a=1\n\nif [[ -n x ]]; then a=2; fi\n", 3, true),
            ("a=1 make\n", 1, true),
            ("a=1 && b=2\n", 1, true),
            ("a=(\n  b\n", 1, false),
            ("a=\"abc\n\n", 1, false),
            ("a=1\nb='x\n", 2, false),
            ("do_build() {\n  echo\n", 1, false),
            ("x=1\ndeclare -f do_build\n", 2, true),
        ];
        for (text, line, shell) in cases {
            match parse(text, "/p") {
                Err(ShError::NeedsShell { line: l, .. }) if shell => assert_eq!(l, line, "{text}"),
                Err(ShError::Syntax { line: l, .. }) if !shell => assert_eq!(l, line, "{text}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn never_panics_on_prefixes_or_noise() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
        for plan in ["redis/plan.sh", "nginx/plan.sh"] {
            let text = std::fs::read_to_string(dir.join(plan)).unwrap();
            assert!(parse(&text, "/p").is_ok(), "{plan}");
            for (i, _) in text.char_indices() {
                let _ = parse(&text[..i], "/p");
            }
        }
        // Seeded noise over the characters that matter to the reader.
        let alphabet: Vec<char> = "ab_=()[]{}$'\"`\\#<-; \n\t".chars().collect();
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..2000 {
            let len = (state % 64) as usize;
            let text: String = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize]
                })
                .collect();
            let _ = parse(&text, "/p");
        }
        let deep = "a=".to_owned() + &"$(".repeat(10_000);
        assert!(matches!(
            parse(&deep, "/p"),
            Err(ShError::Syntax { line: 1, .. })
        ));
    }

    #[test]
    fn assoc_shape_mismatches_are_deferred() {
        let v = vars("pkg_exports=(port)\nplain=([a]=b)\nx=1\nx+=2\n");
        assert!(get(&v, "pkg_exports").is_err());
        assert!(get(&v, "plain").is_err());
        assert_eq!(get(&v, "x"), scalar("12"));
    }
}
