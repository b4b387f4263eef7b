//! The condition language of a metric: the part of Argo Rollouts'
//! expression syntax (expr-lang) that its analysis templates use.
//!
//! `result`, literals (numbers, strings, `true`, `false`, `nil`, lists),
//! member access (`result.status`, `result["a"]`), indexing (`result[0]`,
//! `result[-1]` from the end), the functions `len`, `isNaN`, `isInf`,
//! `isNil`, `default`, `asInt`, `asFloat`, `abs`, `min`, `max`, arithmetic
//! (`+ - * / %`), comparison, `&&`/`and`, `||`/`or`, `!`/`not` and
//! `cond ? a : b`. A condition is parsed when its template is set (an
//! error names the position) and evaluated on each measurement; an
//! evaluation that fails (an index past the end, a string compared with a
//! number) makes that measurement an Error, as Argo's does. A condition
//! never runs user code: there is nothing here to call but these functions.

use super::Value;

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Literal(Value),
    Result,
    List(Vec<Expr>),
    Index(Box<Expr>, Box<Expr>),
    Call(Function, Vec<Expr>),
    Not(Box<Expr>),
    Negate(Box<Expr>),
    Binary(Op, Box<Expr>, Box<Expr>),
    Choose(Box<Expr>, Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
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
    Rem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Function {
    Len,
    IsNaN,
    IsInf,
    IsNil,
    Default,
    AsInt,
    AsFloat,
    Abs,
    Min,
    Max,
}

const FUNCTIONS: [(&str, Function, usize); 10] = [
    ("len", Function::Len, 1),
    ("isNaN", Function::IsNaN, 1),
    ("isInf", Function::IsInf, 1),
    ("isNil", Function::IsNil, 1),
    ("default", Function::Default, 2),
    ("asInt", Function::AsInt, 1),
    ("asFloat", Function::AsFloat, 1),
    ("abs", Function::Abs, 1),
    ("min", Function::Min, 2),
    ("max", Function::Max, 2),
];

/// Why a condition does not parse: what, at which character (0-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    pub(crate) at: usize,
    pub(crate) reason: String,
}

/// The deepest nesting a condition may have: deeper input is refused
/// rather than recursed into.
const MAX_DEPTH: usize = 64;

/// The longest condition accepted, in bytes.
pub(crate) const MAX_CONDITION: usize = 4096;

pub(crate) fn parse(source: &str) -> Result<Expr, ParseError> {
    if source.len() > MAX_CONDITION {
        return Err(ParseError { at: MAX_CONDITION, reason: format!("a condition is at most {MAX_CONDITION} bytes") });
    }
    let mut parser = Parser { tokens: tokenize(source)?, next: 0, depth: 0, end: source.chars().count() };
    let expr = parser.choice()?;
    match parser.peek() {
        None => Ok(expr),
        Some((at, token)) => Err(ParseError { at, reason: format!("unexpected {}", token.describe()) }),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Number(f64),
    Text(String),
    Name(String),
    Punct(&'static str),
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Number(_) => "a number".to_owned(),
            Token::Text(s) => format!("string \"{s}\""),
            Token::Name(s) => format!("\"{s}\""),
            Token::Punct(p) => format!("\"{p}\""),
        }
    }
}

/// Longest first, so that `<=` is not read as `<`.
const PUNCTUATION: [&str; 22] =
    ["&&", "||", "==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%", "!", "(", ")", "[", "]", ",", ".", "?", ":"];

fn tokenize(source: &str) -> Result<Vec<(usize, Token)>, ParseError> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let start = i;
        if c.is_ascii_whitespace() {
            i = i.saturating_add(1);
            continue;
        }
        let token = if c.is_ascii_digit() {
            while chars.get(i).is_some_and(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_') {
                i = i.saturating_add(1);
            }
            let text: String = chars.get(start..i).unwrap_or_default().iter().filter(|c| **c != '_').collect();
            let number =
                parse_number(&text).or_else(|| text.strip_prefix("0x").and_then(|hex| i64::from_str_radix(hex, 16).ok()).map(|n| n as f64));
            Token::Number(number.ok_or_else(|| ParseError { at: start, reason: format!("\"{text}\" is not a number") })?)
        } else if c == '"' || c == '\'' {
            i = i.saturating_add(1);
            let mut text = String::new();
            loop {
                match chars.get(i) {
                    None => return Err(ParseError { at: start, reason: "the string is not closed".into() }),
                    Some(&q) if q == c => break,
                    Some('\\') => {
                        i = i.saturating_add(1);
                        text.push(match chars.get(i) {
                            Some('n') => '\n',
                            Some('t') => '\t',
                            Some(&other) => other,
                            None => return Err(ParseError { at: start, reason: "the string is not closed".into() }),
                        });
                    }
                    Some(&other) => text.push(other),
                }
                i = i.saturating_add(1);
            }
            i = i.saturating_add(1);
            Token::Text(text)
        } else if c.is_ascii_alphabetic() || c == '_' || c == '$' {
            while chars.get(i).is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '$') {
                i = i.saturating_add(1);
            }
            Token::Name(chars.get(start..i).unwrap_or_default().iter().collect())
        } else {
            let rest: String = chars.get(i..).unwrap_or_default().iter().take(2).collect();
            let punct = PUNCTUATION
                .into_iter()
                .find(|p| rest.starts_with(p))
                .ok_or_else(|| ParseError { at: start, reason: format!("unexpected character '{c}'") })?;
            i = i.saturating_add(punct.len());
            Token::Punct(punct)
        };
        tokens.push((start, token));
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    next: usize,
    depth: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<(usize, &Token)> {
        self.tokens.get(self.next).map(|(at, t)| (*at, t))
    }

    fn at(&self) -> usize {
        self.peek().map_or(self.end, |(at, _)| at)
    }

    fn eat(&mut self, punct: &str) -> bool {
        let found = matches!(self.peek(), Some((_, Token::Punct(p))) if *p == punct);
        if found {
            self.next = self.next.saturating_add(1);
        }
        found
    }

    fn eat_word(&mut self, word: &str) -> bool {
        let found = matches!(self.peek(), Some((_, Token::Name(n))) if n == word);
        if found {
            self.next = self.next.saturating_add(1);
        }
        found
    }

    fn expect(&mut self, punct: &str) -> Result<(), ParseError> {
        if self.eat(punct) {
            return Ok(());
        }
        let found = self.peek().map_or_else(|| "the end".to_owned(), |(_, t)| t.describe());
        Err(ParseError { at: self.at(), reason: format!("expected \"{punct}\", found {found}") })
    }

    fn choice(&mut self) -> Result<Expr, ParseError> {
        self.depth = self.depth.saturating_add(1);
        if self.depth > MAX_DEPTH {
            return Err(ParseError { at: self.at(), reason: format!("nested more than {MAX_DEPTH} deep") });
        }
        let condition = self.binary(0)?;
        let expr = if self.eat("?") {
            let yes = self.choice()?;
            self.expect(":")?;
            let no = self.choice()?;
            Expr::Choose(Box::new(condition), Box::new(yes), Box::new(no))
        } else {
            condition
        };
        self.depth = self.depth.saturating_sub(1);
        Ok(expr)
    }

    /// Binary operators by precedence level, loosest first.
    fn binary(&mut self, level: usize) -> Result<Expr, ParseError> {
        const LEVELS: [&[(&str, Op)]; 5] = [
            &[("||", Op::Or), ("or", Op::Or)],
            &[("&&", Op::And), ("and", Op::And)],
            &[("==", Op::Eq), ("!=", Op::Ne), ("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)],
            &[("+", Op::Add), ("-", Op::Sub)],
            &[("*", Op::Mul), ("/", Op::Div), ("%", Op::Rem)],
        ];
        let Some(ops) = LEVELS.get(level) else {
            return self.unary();
        };
        let mut left = self.binary(level.saturating_add(1))?;
        'more: loop {
            for &(text, op) in ops.iter() {
                if self.eat(text) || (text.starts_with(|c: char| c.is_ascii_alphabetic()) && self.eat_word(text)) {
                    let right = self.binary(level.saturating_add(1))?;
                    left = Expr::Binary(op, Box::new(left), Box::new(right));
                    continue 'more;
                }
            }
            return Ok(left);
        }
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.eat("!") || self.eat_word("not") {
            return Ok(Expr::Not(Box::new(self.nested(Self::unary)?)));
        }
        if self.eat("-") {
            return Ok(Expr::Negate(Box::new(self.nested(Self::unary)?)));
        }
        self.eat("+");
        let mut expr = self.primary()?;
        loop {
            if self.eat(".") {
                match self.tokens.get(self.next) {
                    Some((_, Token::Name(name))) => {
                        let key = Expr::Literal(Value::Text(name.clone()));
                        self.next = self.next.saturating_add(1);
                        expr = Expr::Index(Box::new(expr), Box::new(key));
                    }
                    _ => return Err(ParseError { at: self.at(), reason: "expected a field name after \".\"".into() }),
                }
            } else if self.eat("[") {
                let index = self.choice()?;
                self.expect("]")?;
                expr = Expr::Index(Box::new(expr), Box::new(index));
            } else {
                return Ok(expr);
            }
        }
    }

    fn nested(&mut self, parse: fn(&mut Self) -> Result<Expr, ParseError>) -> Result<Expr, ParseError> {
        self.depth = self.depth.saturating_add(1);
        if self.depth > MAX_DEPTH {
            return Err(ParseError { at: self.at(), reason: format!("nested more than {MAX_DEPTH} deep") });
        }
        let expr = parse(self);
        self.depth = self.depth.saturating_sub(1);
        expr
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let at = self.at();
        let Some((_, token)) = self.tokens.get(self.next).cloned() else {
            return Err(ParseError { at, reason: "the condition ends where a value belongs".into() });
        };
        self.next = self.next.saturating_add(1);
        Ok(match token {
            Token::Number(n) => Expr::Literal(Value::Number(n)),
            Token::Text(s) => Expr::Literal(Value::Text(s)),
            Token::Punct("(") => {
                let expr = self.choice()?;
                self.expect(")")?;
                expr
            }
            Token::Punct("[") => Expr::List(self.arguments("]")?),
            Token::Name(name) => match name.as_str() {
                "result" => Expr::Result,
                "true" => Expr::Literal(Value::Bool(true)),
                "false" => Expr::Literal(Value::Bool(false)),
                "nil" | "null" => Expr::Literal(Value::Nil),
                "NaN" => Expr::Literal(Value::Number(f64::NAN)),
                _ => {
                    let Some(&(_, function, arity)) = FUNCTIONS.iter().find(|(n, ..)| *n == name) else {
                        let known: Vec<&str> = FUNCTIONS.iter().map(|(n, ..)| *n).collect();
                        return Err(ParseError {
                            at,
                            reason: format!("unknown name \"{name}\": a condition reads result and calls {}", known.join(", ")),
                        });
                    };
                    self.expect("(")?;
                    let args = self.arguments(")")?;
                    if args.len() != arity {
                        let s = if arity == 1 { "" } else { "s" };
                        return Err(ParseError { at, reason: format!("{name} takes {arity} argument{s}, got {}", args.len()) });
                    }
                    Expr::Call(function, args)
                }
            },
            other => return Err(ParseError { at, reason: format!("unexpected {}", other.describe()) }),
        })
    }

    fn arguments(&mut self, close: &str) -> Result<Vec<Expr>, ParseError> {
        let mut items = Vec::new();
        if self.eat(close) {
            return Ok(items);
        }
        loop {
            items.push(self.choice()?);
            if self.eat(close) {
                return Ok(items);
            }
            self.expect(",")?;
        }
    }
}

/// A decimal number (`12`, `-0.95`, `.5`, `1e-3`, `NaN`, `+Inf`). Correctly
/// rounded when its digits fit in 2^53 and its power of ten is at most 22
/// (every threshold a condition compares with), within an ulp or so
/// beyond. The standard library's parser is exact everywhere, and its
/// tables would cost the wasm module 7 KB gzipped.
pub(crate) fn parse_number(text: &str) -> Option<f64> {
    let text = text.trim();
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let sign = if negative { -1.0 } else { 1.0 };
    match text {
        "NaN" | "nan" => return Some(f64::NAN),
        "Inf" | "inf" | "Infinity" => return Some(sign * f64::INFINITY),
        _ => {}
    }
    let (digits, exponent) = match text.find(['e', 'E']) {
        Some(at) => (text.get(..at)?, text.get(at.saturating_add(1)..)?.parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (mut mantissa, mut exponent, mut dot, mut seen) = (0u64, exponent, false, false);
    for c in digits.chars() {
        if c == '.' && !dot {
            dot = true;
            continue;
        }
        let digit = u64::from(c.to_digit(10)?);
        seen = true;
        if mantissa < 1_000_000_000_000_000_000 {
            mantissa = mantissa.saturating_mul(10).saturating_add(digit);
            exponent = exponent.saturating_sub(i32::from(dot));
        } else {
            exponent = exponent.saturating_add(i32::from(!dot));
        }
    }
    if !seen {
        return None;
    }
    let value = mantissa as f64;
    let value = match exponent.clamp(-400, 400) {
        e if e >= 0 => value * 10f64.powi(e),
        e if e >= -300 => value / 10f64.powi(e.saturating_neg()),
        e => value / 1e300 / 10f64.powi(e.saturating_neg().saturating_sub(300)),
    };
    Some(sign * value)
}

/// Evaluates `expr` with `result` bound; the error says what went wrong.
pub(crate) fn eval(expr: &Expr, result: &Value) -> Result<Value, String> {
    Ok(match expr {
        Expr::Literal(v) => v.clone(),
        Expr::Result => result.clone(),
        Expr::List(items) => Value::List(items.iter().map(|e| eval(e, result)).collect::<Result<_, _>>()?),
        Expr::Index(of, key) => index(eval(of, result)?, &eval(key, result)?)?,
        Expr::Call(function, args) => {
            let args = args.iter().map(|e| eval(e, result)).collect::<Result<Vec<_>, _>>()?;
            call(*function, args)?
        }
        Expr::Not(e) => Value::Bool(!truth(&eval(e, result)?, "!")?),
        Expr::Negate(e) => Value::Number(-number(&eval(e, result)?, "-")?),
        Expr::Binary(Op::And, a, b) => Value::Bool(truth(&eval(a, result)?, "&&")? && truth(&eval(b, result)?, "&&")?),
        Expr::Binary(Op::Or, a, b) => Value::Bool(truth(&eval(a, result)?, "||")? || truth(&eval(b, result)?, "||")?),
        Expr::Binary(op, a, b) => binary(*op, eval(a, result)?, eval(b, result)?)?,
        Expr::Choose(c, yes, no) => {
            if truth(&eval(c, result)?, "?:")? {
                eval(yes, result)?
            } else {
                eval(no, result)?
            }
        }
    })
}

fn truth(value: &Value, op: &str) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        other => Err(format!("{op} needs true or false, got {}", other.kind())),
    }
}

fn number(value: &Value, op: &str) -> Result<f64, String> {
    match value {
        Value::Number(n) => Ok(*n),
        other => Err(format!("{op} needs a number, got {}", other.kind())),
    }
}

fn index(of: Value, key: &Value) -> Result<Value, String> {
    match (of, key) {
        (Value::List(items), Value::Number(n)) => {
            let len = items.len();
            let at = if *n < 0.0 { len as f64 + n } else { *n };
            if at.fract() != 0.0 || at < 0.0 || at >= len as f64 {
                return Err(format!("index {} out of range (the list has {len} item{})", *n as i64, if len == 1 { "" } else { "s" }));
            }
            Ok(items.into_iter().nth(at as usize).unwrap_or(Value::Nil))
        }
        (Value::Map(entries), Value::Text(k)) => Ok(entries.into_iter().find(|(name, _)| name == k).map_or(Value::Nil, |(_, v)| v)),
        (Value::Nil, _) => Err("cannot index nil (no data)".into()),
        (of, key) => Err(format!("cannot index {} with {}", of.kind(), key.kind())),
    }
}

fn call(function: Function, args: Vec<Value>) -> Result<Value, String> {
    let mut args = args.into_iter();
    let first = args.next().unwrap_or(Value::Nil);
    Ok(match function {
        Function::Len => Value::Number(match &first {
            Value::List(items) => items.len(),
            Value::Map(entries) => entries.len(),
            Value::Text(s) => s.chars().count(),
            other => return Err(format!("len needs a list, map or string, got {}", other.kind())),
        } as f64),
        Function::IsNaN => Value::Bool(number(&first, "isNaN")?.is_nan()),
        Function::IsInf => Value::Bool(number(&first, "isInf")?.is_infinite()),
        Function::IsNil => Value::Bool(first == Value::Nil),
        Function::Default => match first {
            Value::Nil => args.next().unwrap_or(Value::Nil),
            value => value,
        },
        Function::AsInt | Function::AsFloat => {
            let n = match &first {
                Value::Number(n) => *n,
                Value::Text(s) => parse_number(s).ok_or_else(|| format!("cannot read \"{s}\" as a number"))?,
                other => return Err(format!("cannot read {} as a number", other.kind())),
            };
            if function == Function::AsInt {
                if !n.is_finite() {
                    return Err("asInt of a number that is not finite".into());
                }
                Value::Number(n.trunc())
            } else {
                Value::Number(n)
            }
        }
        Function::Abs => Value::Number(number(&first, "abs")?.abs()),
        Function::Min | Function::Max => {
            let a = number(&first, "min/max")?;
            let b = number(&args.next().unwrap_or(Value::Nil), "min/max")?;
            Value::Number(if function == Function::Min { a.min(b) } else { a.max(b) })
        }
    })
}

fn binary(op: Op, a: Value, b: Value) -> Result<Value, String> {
    use std::cmp::Ordering;
    if matches!(op, Op::Eq | Op::Ne) {
        return Ok(Value::Bool((a == b) == (op == Op::Eq)));
    }
    let order = match (&a, &b) {
        (Value::Number(x), Value::Number(y)) => x.partial_cmp(y),
        (Value::Text(x), Value::Text(y)) => Some(x.cmp(y)),
        _ => None,
    };
    let compare = |accept: fn(Ordering) -> bool| match (&a, &b) {
        (Value::Number(_), Value::Number(_)) | (Value::Text(_), Value::Text(_)) => Ok(Value::Bool(order.is_some_and(accept))),
        _ => Err(format!("cannot compare {} with {}", a.kind(), b.kind())),
    };
    match op {
        Op::Lt => compare(Ordering::is_lt),
        Op::Le => compare(Ordering::is_le),
        Op::Gt => compare(Ordering::is_gt),
        Op::Ge => compare(Ordering::is_ge),
        Op::Add if matches!((&a, &b), (Value::Text(_), Value::Text(_))) => Ok(Value::Text(format!("{}{}", text(&a), text(&b)))),
        _ => {
            let (x, y) = (number(&a, "arithmetic")?, number(&b, "arithmetic")?);
            Ok(Value::Number(match op {
                Op::Add => x + y,
                Op::Sub => x - y,
                Op::Mul => x * y,
                Op::Div => x / y,
                _ => x % y,
            }))
        }
    }
}

fn text(value: &Value) -> &str {
    match value {
        Value::Text(s) => s,
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(condition: &str, result: Value) -> Result<Value, String> {
        eval(&parse(condition).map_err(|e| format!("{} at {}", e.reason, e.at))?, &result)
    }

    #[test]
    fn argo_conditions() {
        let list = Value::List(vec![Value::Number(0.97)]);
        assert_eq!(check("result[0] >= 0.95", list.clone()), Ok(Value::Bool(true)));
        assert_eq!(check("len(result) == 0 || result[0] < 0.9", list.clone()), Ok(Value::Bool(false)));
        assert_eq!(check("isNaN(result) || result >= 0.95", Value::Number(f64::NAN)), Ok(Value::Bool(true)));
        assert_eq!(check("default(result, 0) > 5", Value::Nil), Ok(Value::Bool(false)));
        assert_eq!(check("asInt(result) == 1", Value::Text("1".into())), Ok(Value::Bool(true)));
        assert_eq!(check("result[-1] * 100 < 98 and not false", list), Ok(Value::Bool(true)));
        let map = Value::Map(vec![("status".into(), Value::Text("ok".into()))]);
        assert_eq!(check("result.status == 'ok' ? true : false", map), Ok(Value::Bool(true)));
    }

    #[test]
    fn numbers_read_as_the_standard_parser_reads_them() {
        for text in ["0", "12", "0.95", "-0.05", ".5", "5.", "1e3", "2.5E-4", "123456789012345678", "0.1", "99.99", "1e22", "1e-22"] {
            assert_eq!(parse_number(text), text.parse::<f64>().ok(), "{text}");
        }
        assert!(parse_number("NaN").is_some_and(f64::is_nan));
        assert_eq!(parse_number("-Inf"), Some(f64::NEG_INFINITY));
        for bad in ["", ".", "1.2.3", "abc", "1e", "--1"] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
        let far = parse_number("1.5e300").unwrap();
        assert!((far / 1.5e300 - 1.0).abs() < 1e-12);
        assert!(parse_number("4.9e-324").is_some());
    }

    proptest::proptest! {
        /// No input panics the parser or the evaluator: any text parses
        /// or is refused, and whatever parses evaluates or errs.
        #[test]
        fn any_condition_parses_or_is_refused(text in "[ -~]{0,120}", n in proptest::num::f64::ANY) {
            if let Ok(expr) = parse(&text) {
                let _ = eval(&expr, &Value::List(vec![Value::Number(n), Value::Text("x".into())]));
                let _ = eval(&expr, &Value::Nil);
            }
        }

        #[test]
        fn conditions_of_argo_shape_never_panic(ops in proptest::collection::vec(0usize..12, 1..30)) {
            const PARTS: [&str; 12] = ["result[0]", " < ", "0.95", " && ", "isNaN(result)", " || ", "!", "(", ")", "len(result)", " * -1e308", "default(result, 1)"];
            let text: String = ops.iter().map(|&i| PARTS[i]).collect();
            if let Ok(expr) = parse(&text) {
                let _ = eval(&expr, &Value::List(vec![Value::Number(f64::MAX)]));
            }
        }
    }

    #[test]
    fn errors_name_the_position() {
        assert_eq!(parse("result[0] >= ").map_err(|e| e.at), Err(13));
        assert_eq!(parse("result > foo(1)").map_err(|e| e.at), Err(9));
        assert!(parse(&"(".repeat(100)).is_err());
        assert!(check("result[1] > 0", Value::List(vec![Value::Number(1.0)])).is_err());
        assert!(check("result > 'a'", Value::Number(1.0)).is_err());
    }
}
