//! Lexer and recursive-descent parser: OTTL statement text to an [`Statement`] AST.
//!
//! Errors carry the 1-based column of the offending token; [`crate::parse_statements`] adds
//! the statement number.

/// A parse or compile error at a column of one statement.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub col: usize,
    pub message: String,
}

impl SyntaxError {
    pub fn new(col: usize, message: impl Into<String>) -> Self {
        SyntaxError {
            col,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Int(i64),
    Float(f64),
    Bytes(Vec<u8>),
    LParen,
    RParen,
    LBrack,
    RBrack,
    LBrace,
    RBrace,
    Comma,
    Colon,
    Dot,
    Assign,
    Op(BinOp),
    Eof,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("\"{s}\""),
            Tok::Str(s) => format!("string \"{s}\""),
            Tok::Int(i) => format!("number {i}"),
            Tok::Float(f) => format!("number {f}"),
            Tok::Bytes(_) => "bytes".into(),
            Tok::LParen => "\"(\"".into(),
            Tok::RParen => "\")\"".into(),
            Tok::LBrack => "\"[\"".into(),
            Tok::RBrack => "\"]\"".into(),
            Tok::LBrace => "\"{\"".into(),
            Tok::RBrace => "\"}\"".into(),
            Tok::Comma => "\",\"".into(),
            Tok::Colon => "\":\"".into(),
            Tok::Dot => "\".\"".into(),
            Tok::Assign => "\"=\"".into(),
            Tok::Op(op) => format!("\"{}\"", op.as_str()),
            Tok::Eof => "end of statement".into(),
        }
    }
}

/// Binary operators, lowest precedence first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
}

impl BinOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
        }
    }
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, SyntaxError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        // A float may start with its point (`.5`), as Go's `\d*\.\d+` allows.
        let starts_number =
            c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit));
        let single = match c {
            _ if starts_number => None,
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '[' => Some(Tok::LBrack),
            ']' => Some(Tok::RBrack),
            '{' => Some(Tok::LBrace),
            '}' => Some(Tok::RBrace),
            ',' => Some(Tok::Comma),
            ':' => Some(Tok::Colon),
            '.' => Some(Tok::Dot),
            '+' => Some(Tok::Op(BinOp::Add)),
            '-' => Some(Tok::Op(BinOp::Sub)),
            '*' => Some(Tok::Op(BinOp::Mul)),
            '/' => Some(Tok::Op(BinOp::Div)),
            _ => None,
        };
        if let Some(t) = single {
            out.push((t, col));
            i += 1;
            continue;
        }
        let next = chars.get(i + 1).copied();
        match c {
            '=' | '!' | '<' | '>' => {
                let (tok, len) = match (c, next) {
                    ('=', Some('=')) => (Tok::Op(BinOp::Eq), 2),
                    ('=', _) => (Tok::Assign, 1),
                    ('!', Some('=')) => (Tok::Op(BinOp::Ne), 2),
                    ('!', _) => return Err(SyntaxError::new(col, "unexpected character '!'")),
                    ('<', Some('=')) => (Tok::Op(BinOp::Le), 2),
                    ('<', _) => (Tok::Op(BinOp::Lt), 1),
                    ('>', Some('=')) => (Tok::Op(BinOp::Ge), 2),
                    _ => (Tok::Op(BinOp::Gt), 1),
                };
                out.push((tok, col));
                i += len;
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(SyntaxError::new(col, "unterminated string")),
                        Some('"') => break,
                        Some('\\') => {
                            let e = chars.get(i + 1).copied();
                            match e {
                                Some('"') => s.push('"'),
                                Some('\\') => s.push('\\'),
                                Some('n') => s.push('\n'),
                                Some('t') => s.push('\t'),
                                Some('r') => s.push('\r'),
                                Some('a') => s.push('\x07'),
                                Some('b') => s.push('\x08'),
                                Some('f') => s.push('\x0c'),
                                Some('v') => s.push('\x0b'),
                                // `\xNN`, `\uNNNN`, `\UNNNNNNNN` as Go's strconv.Unquote reads them.
                                Some(e @ ('x' | 'u' | 'U')) => {
                                    let n = match e {
                                        'x' => 2,
                                        'u' => 4,
                                        _ => 8,
                                    };
                                    let digits: String =
                                        chars.get(i + 2..i + 2 + n).unwrap_or(&[]).iter().collect();
                                    let ch = (digits.len() == n)
                                        .then(|| u32::from_str_radix(&digits, 16).ok())
                                        .flatten()
                                        .filter(|c| e != 'x' || *c < 0x80)
                                        .and_then(char::from_u32)
                                        .ok_or_else(|| {
                                            SyntaxError::new(
                                                i + 1,
                                                format!("invalid escape \"\\{e}{digits}\""),
                                            )
                                        })?;
                                    s.push(ch);
                                    i += n;
                                }
                                // Unknown escapes are kept as written (regex escapes).
                                Some(o) => {
                                    s.push('\\');
                                    s.push(o);
                                }
                                None => return Err(SyntaxError::new(col, "unterminated string")),
                            }
                            i += 2;
                        }
                        Some(ch) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                i += 1;
                out.push((Tok::Str(s), col));
            }
            '0' if matches!(next, Some('x' | 'X')) => {
                let start = i + 2;
                let mut j = start;
                while j < chars.len() && chars[j].is_ascii_alphanumeric() {
                    j += 1;
                }
                let hex: String = chars[start..j].iter().collect();
                if hex.is_empty() || !hex.len().is_multiple_of(2) {
                    return Err(SyntaxError::new(
                        col,
                        format!("invalid bytes literal \"0x{hex}\""),
                    ));
                }
                let mut bytes = Vec::with_capacity(hex.len() / 2);
                for k in (0..hex.len()).step_by(2) {
                    let b = u8::from_str_radix(&hex[k..k + 2], 16).map_err(|_| {
                        SyntaxError::new(col, format!("invalid bytes literal \"0x{hex}\""))
                    })?;
                    bytes.push(b);
                }
                out.push((Tok::Bytes(bytes), col));
                i = j;
            }
            _ if starts_number => {
                let mut j = i;
                let mut float = false;
                while j < chars.len()
                    && (chars[j].is_ascii_digit()
                        || (chars[j] == '.'
                            && !float
                            && chars.get(j + 1).is_some_and(|d| d.is_ascii_digit())))
                {
                    float |= chars[j] == '.';
                    j += 1;
                }
                // An exponent follows a fraction only (Go: `\d*\.\d+([eE][-+]?\d+)?`).
                if float && matches!(chars.get(j), Some('e' | 'E')) {
                    let mut k = j + 1;
                    if matches!(chars.get(k), Some('+' | '-')) {
                        k += 1;
                    }
                    if chars.get(k).is_some_and(char::is_ascii_digit) {
                        while chars.get(k).is_some_and(char::is_ascii_digit) {
                            k += 1;
                        }
                        j = k;
                    }
                }
                if j < chars.len() && (chars[j].is_alphabetic() || chars[j] == '_') {
                    let mut k = j;
                    while k < chars.len() && (chars[k].is_alphanumeric() || chars[k] == '_') {
                        k += 1;
                    }
                    let text: String = chars[i..k].iter().collect();
                    return Err(SyntaxError::new(col, format!("invalid number \"{text}\"")));
                }
                let text: String = chars[i..j].iter().collect();
                let tok = if float {
                    Tok::Float(text.parse().unwrap_or(0.0))
                } else {
                    Tok::Int(text.parse().map_err(|_| {
                        SyntaxError::new(col, format!("integer {text} out of range"))
                    })?)
                };
                out.push((tok, col));
                i = j;
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut j = i;
                while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                out.push((Tok::Ident(chars[i..j].iter().collect()), col));
                i = j;
            }
            other => {
                return Err(SyntaxError::new(
                    col,
                    format!("unexpected character '{other}'"),
                ));
            }
        }
    }
    out.push((Tok::Eof, chars.len() + 1));
    Ok(out)
}

/// One statement: an editor invocation and an optional `where` condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub editor: Call,
    pub condition: Option<Expr>,
}

/// A function call: an editor (lower-case) or converter (capitalised), with optional indexes
/// on the result (converters only).
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: String,
    pub col: usize,
    pub args: Vec<Arg>,
    pub keys: Vec<Expr>,
}

/// A function argument, positional or named (`pattern = "x"`).
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub name: Option<String>,
    pub value: Expr,
}

/// A path: `span.attributes["k"][0]` is parts `[span, attributes]` and two keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub parts: Vec<String>,
    pub keys: Vec<Expr>,
}

/// An expression with the column where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub col: usize,
    pub kind: ExprKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Enum(String),
    Path(Path),
    Call(Call),
    List(Vec<Expr>),
    Map(Vec<(String, Expr)>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    /// How deep the descent is: nesting past [`MAX_DEPTH`] is refused, so a config cannot
    /// overflow the stack.
    depth: usize,
}

/// Levels of descent a statement may take: each parenthesis, list, map or argument takes up to
/// three, each `not` or sign one; about 100 parentheses deep.
const MAX_DEPTH: usize = 300;

/// Parses one statement.
pub fn parse_statement(src: &str) -> Result<Statement, SyntaxError> {
    let mut p = Parser {
        toks: lex(src)?,
        pos: 0,
        depth: 0,
    };
    let (tok, col) = p.peek_full();
    let editor = match tok {
        Tok::Ident(name) if !is_keyword(&name) => {
            p.bump();
            if p.peek() != &Tok::LParen {
                return Err(SyntaxError::new(
                    col,
                    format!("expected an editor invocation, found \"{name}\""),
                ));
            }
            p.call(name, col)?
        }
        Tok::Eof => return Err(SyntaxError::new(col, "empty statement")),
        other => {
            return Err(SyntaxError::new(
                col,
                format!("expected an editor invocation, found {}", other.describe()),
            ));
        }
    };
    if !editor.keys.is_empty() {
        return Err(SyntaxError::new(
            col,
            "an editor's result cannot be indexed",
        ));
    }
    let condition = match p.peek_full() {
        (Tok::Ident(w), _) if w == "where" => {
            p.bump();
            Some(p.expr()?)
        }
        (Tok::Eof, _) => None,
        (t, c) => {
            return Err(SyntaxError::new(
                c,
                format!(
                    "expected \"where\" or end of statement, found {}",
                    t.describe()
                ),
            ));
        }
    };
    p.expect_eof()?;
    Ok(Statement { editor, condition })
}

/// Parses a condition (the filter processor's form, a bare boolean expression).
pub fn parse_condition(src: &str) -> Result<Expr, SyntaxError> {
    let mut p = Parser {
        toks: lex(src)?,
        pos: 0,
        depth: 0,
    };
    if p.peek() == &Tok::Eof {
        return Err(SyntaxError::new(1, "empty condition"));
    }
    let e = p.expr()?;
    p.expect_eof()?;
    Ok(e)
}

fn is_keyword(s: &str) -> bool {
    matches!(s, "and" | "or" | "not" | "where")
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }
    fn peek_full(&self) -> (Tok, usize) {
        self.toks[self.pos].clone()
    }
    fn col(&self) -> usize {
        self.toks[self.pos].1
    }
    fn bump(&mut self) {
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
    }
    fn expect(&mut self, t: Tok) -> Result<(), SyntaxError> {
        if self.peek() == &t {
            self.bump();
            Ok(())
        } else {
            Err(SyntaxError::new(
                self.col(),
                format!(
                    "expected {} but found {}",
                    t.describe(),
                    self.peek().describe()
                ),
            ))
        }
    }
    fn expect_eof(&self) -> Result<(), SyntaxError> {
        if self.peek() == &Tok::Eof {
            Ok(())
        } else {
            Err(SyntaxError::new(
                self.col(),
                format!("unexpected {} after expression", self.peek().describe()),
            ))
        }
    }
    fn is_ident(&self, w: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == w)
    }

    /// Runs one level of the descent, refusing nesting past [`MAX_DEPTH`].
    fn nested(
        &mut self,
        f: fn(&mut Self) -> Result<Expr, SyntaxError>,
    ) -> Result<Expr, SyntaxError> {
        if self.depth >= MAX_DEPTH {
            return Err(SyntaxError::new(self.col(), "expression nested too deeply"));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn expr(&mut self) -> Result<Expr, SyntaxError> {
        self.nested(Self::expr_inner)
    }

    fn expr_inner(&mut self) -> Result<Expr, SyntaxError> {
        let mut lhs = self.and()?;
        while self.is_ident("or") {
            self.bump();
            let rhs = self.and()?;
            lhs = bin(BinOp::Or, lhs, rhs);
        }
        Ok(lhs)
    }

    fn and(&mut self) -> Result<Expr, SyntaxError> {
        let mut lhs = self.not()?;
        while self.is_ident("and") {
            self.bump();
            let rhs = self.not()?;
            lhs = bin(BinOp::And, lhs, rhs);
        }
        Ok(lhs)
    }

    fn not(&mut self) -> Result<Expr, SyntaxError> {
        self.nested(Self::not_inner)
    }

    fn not_inner(&mut self) -> Result<Expr, SyntaxError> {
        if self.is_ident("not") {
            let col = self.col();
            self.bump();
            let inner = self.not()?;
            return Ok(Expr {
                col,
                kind: ExprKind::Not(Box::new(inner)),
            });
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<Expr, SyntaxError> {
        let lhs = self.add()?;
        if let Tok::Op(
            op @ (BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge),
        ) = *self.peek()
        {
            self.bump();
            let rhs = self.add()?;
            if let Tok::Op(BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge) =
                self.peek()
            {
                return Err(SyntaxError::new(
                    self.col(),
                    "comparisons cannot be chained; use \"and\"",
                ));
            }
            return Ok(bin(op, lhs, rhs));
        }
        Ok(lhs)
    }

    fn add(&mut self) -> Result<Expr, SyntaxError> {
        let mut lhs = self.mul()?;
        while let Tok::Op(op @ (BinOp::Add | BinOp::Sub)) = *self.peek() {
            self.bump();
            let rhs = self.mul()?;
            lhs = bin(op, lhs, rhs);
        }
        Ok(lhs)
    }

    fn mul(&mut self) -> Result<Expr, SyntaxError> {
        let mut lhs = self.unary()?;
        while let Tok::Op(op @ (BinOp::Mul | BinOp::Div)) = *self.peek() {
            self.bump();
            let rhs = self.unary()?;
            lhs = bin(op, lhs, rhs);
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr, SyntaxError> {
        self.nested(Self::unary_inner)
    }

    fn unary_inner(&mut self) -> Result<Expr, SyntaxError> {
        // A leading `+` is a sign, as in Go's `[-+]?\d+`.
        if let Tok::Op(BinOp::Add) = self.peek() {
            self.bump();
            return self.unary();
        }
        if let Tok::Op(BinOp::Sub) = self.peek() {
            let col = self.col();
            self.bump();
            let inner = self.unary()?;
            let kind = match inner.kind {
                ExprKind::Int(i) => ExprKind::Int(-i),
                ExprKind::Float(f) => ExprKind::Float(-f),
                other => ExprKind::Neg(Box::new(Expr {
                    col: inner.col,
                    kind: other,
                })),
            };
            return Ok(Expr { col, kind });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, SyntaxError> {
        let (tok, col) = self.peek_full();
        let kind = match tok {
            Tok::Str(s) => {
                self.bump();
                ExprKind::Str(s)
            }
            Tok::Int(i) => {
                self.bump();
                ExprKind::Int(i)
            }
            Tok::Float(f) => {
                self.bump();
                ExprKind::Float(f)
            }
            Tok::Bytes(b) => {
                self.bump();
                ExprKind::Bytes(b)
            }
            Tok::LParen => {
                self.bump();
                let e = self.expr()?;
                self.expect(Tok::RParen)?;
                return Ok(e);
            }
            Tok::LBrack => {
                self.bump();
                let mut items = Vec::new();
                if self.peek() != &Tok::RBrack {
                    loop {
                        items.push(self.expr()?);
                        if self.peek() == &Tok::Comma {
                            self.bump();
                            continue;
                        }
                        break;
                    }
                }
                self.expect(Tok::RBrack)?;
                ExprKind::List(items)
            }
            Tok::LBrace => {
                self.bump();
                let mut items = Vec::new();
                if self.peek() != &Tok::RBrace {
                    loop {
                        let (k, kc) = self.peek_full();
                        let Tok::Str(k) = k else {
                            return Err(SyntaxError::new(
                                kc,
                                format!("map keys must be strings, found {}", k.describe()),
                            ));
                        };
                        self.bump();
                        self.expect(Tok::Colon)?;
                        items.push((k, self.expr()?));
                        if self.peek() == &Tok::Comma {
                            self.bump();
                            // A trailing comma is allowed, as in Go's map rule.
                            if self.peek() == &Tok::RBrace {
                                break;
                            }
                            continue;
                        }
                        break;
                    }
                }
                self.expect(Tok::RBrace)?;
                ExprKind::Map(items)
            }
            Tok::Ident(name) => {
                if is_keyword(&name) {
                    return Err(SyntaxError::new(
                        col,
                        format!("unexpected keyword \"{name}\""),
                    ));
                }
                self.bump();
                match name.as_str() {
                    "nil" => ExprKind::Nil,
                    "true" => ExprKind::Bool(true),
                    "false" => ExprKind::Bool(false),
                    _ if self.peek() == &Tok::LParen => {
                        if !name.starts_with(|c: char| c.is_ascii_uppercase()) {
                            return Err(SyntaxError::new(
                                col,
                                format!(
                                    "editor \"{name}\" cannot be used as a value; converters start with an upper-case letter"
                                ),
                            ));
                        }
                        ExprKind::Call(self.call(name, col)?)
                    }
                    // An enum, or a converter named as the `function` argument of the
                    // `replace_*` editors (`SHA256`, `ToLowerCase`): resolved when compiled.
                    _ if name.starts_with(|c: char| c.is_ascii_uppercase()) => ExprKind::Enum(name),
                    _ => ExprKind::Path(self.path(name)?),
                }
            }
            other => {
                return Err(SyntaxError::new(
                    col,
                    format!("expected a value but found {}", other.describe()),
                ));
            }
        };
        Ok(Expr { col, kind })
    }

    fn path(&mut self, first: String) -> Result<Path, SyntaxError> {
        let mut parts = vec![first];
        while self.peek() == &Tok::Dot {
            self.bump();
            match self.peek_full() {
                (Tok::Ident(s), _) => {
                    self.bump();
                    parts.push(s);
                }
                (t, c) => {
                    return Err(SyntaxError::new(
                        c,
                        format!(
                            "expected a field name after \".\" but found {}",
                            t.describe()
                        ),
                    ));
                }
            }
        }
        let keys = self.keys()?;
        Ok(Path { parts, keys })
    }

    fn keys(&mut self) -> Result<Vec<Expr>, SyntaxError> {
        let mut keys = Vec::new();
        while self.peek() == &Tok::LBrack {
            self.bump();
            let (t, c) = self.peek_full();
            let key = match t {
                Tok::Str(s) => {
                    self.bump();
                    Expr {
                        col: c,
                        kind: ExprKind::Str(s),
                    }
                }
                Tok::Int(i) => {
                    self.bump();
                    Expr {
                        col: c,
                        kind: ExprKind::Int(i),
                    }
                }
                Tok::Ident(_) => self.primary()?,
                other => {
                    return Err(SyntaxError::new(
                        c,
                        format!(
                            "index must be a string, an integer or a path, found {}",
                            other.describe()
                        ),
                    ));
                }
            };
            self.expect(Tok::RBrack)?;
            keys.push(key);
        }
        Ok(keys)
    }

    fn call(&mut self, name: String, col: usize) -> Result<Call, SyntaxError> {
        self.expect(Tok::LParen)?;
        let mut args = Vec::new();
        if self.peek() != &Tok::RParen {
            loop {
                let named = match (&self.toks[self.pos].0, self.toks.get(self.pos + 1)) {
                    (Tok::Ident(n), Some((Tok::Assign, _))) => Some(n.clone()),
                    _ => None,
                };
                if named.is_some() {
                    self.bump();
                    self.bump();
                } else if args.iter().any(|a: &Arg| a.name.is_some()) {
                    return Err(SyntaxError::new(
                        self.col(),
                        "positional arguments cannot follow named arguments",
                    ));
                }
                args.push(Arg {
                    name: named,
                    value: self.expr()?,
                });
                if self.peek() == &Tok::Comma {
                    self.bump();
                    continue;
                }
                break;
            }
        }
        self.expect(Tok::RParen)?;
        let keys = self.keys()?;
        Ok(Call {
            name,
            col,
            args,
            keys,
        })
    }
}

fn bin(op: BinOp, lhs: Expr, rhs: Expr) -> Expr {
    Expr {
        col: lhs.col,
        kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
    }
}
