//! The stylesheet subset of OpenTok's `custom` layouts, and a small CSS box layout for it.
//!
//! The document is OpenTok's virtual DOM: a container of the output's size (position
//! relative, overflow hidden) holding one `<stream class="…">` element per shown stream,
//! in [`order_streams`](super::order_streams) order. The default rule is
//! `stream { display: block; margin: 0 }`.
//!
//! Selectors: `stream`, `.class`, compounds of them (`stream.a.b`), the combinators `+`
//! and `~`, the pseudo-classes `:first-child`, `:last-child`, `:nth-child(An+B | odd |
//! even)` and `:nth-last-child(…)`, and selector lists (`a, b`). Anything else (`*`,
//! `#id`, `[attr]`, descendant and child combinators, pseudo-elements, other element
//! names, at-rules) is an error, as are unknown properties and bad values: a
//! stylesheet is accepted whole or refused with the line and what is wrong.
//!
//! Properties: `position` (`static`, `relative`, `absolute`), `top`/`left`/`right`/
//! `bottom`, `width`/`height`, `min-`/`max-width`/`height` (`px`, `%`, unitless `0`,
//! `auto`), `margin` (one to four values) and `margin-top`/`-right`/`-bottom`/`-left`,
//! `z-index`, `display` (`none`, `block`, `inline`, `inline-block`), `float` (`none`,
//! `left`, `right`), `clear` (`none`, `left`, `right`, `both`, `initial`, `inherit`),
//! `object-fit` (`contain`, `cover`), `overflow` (`hidden`, accepted and ignored: the
//! container always clips). `!important` is honoured. Later rules of equal specificity
//! win, as in CSS.
//!
//! Layout follows CSS 2 where the subset reaches:
//! * percentages of `width`, `left`, `right` and of **every margin, `margin-top`
//!   included,** are of the container's width; of `height`, `top`, `bottom`, of its
//!   height (so OpenTok's `margin-top: 60%` puts tiles at 80 % of a 4:3 frame, and off a
//!   16:9 one, exactly as in a browser);
//! * in-flow blocks stack from the top (`width: auto` fills the line, `height: auto` is
//!   0: a stream element has no content); floats go as high, then as far left (right)
//!   as they fit without overlapping earlier floats and never above an earlier float,
//!   `clear` moves them below the floats of the cleared side; absolutely positioned
//!   boxes are placed by their offsets against the container (`auto` width/height
//!   fill between two given offsets, else 0); `relative` shifts a box from its place;
//! * drawing order: negative `z-index`, in-flow blocks, floats, positioned boxes with
//!   `z-index` auto or 0, then positive `z-index`, document order among equals
//!   (`z-index` applies to positioned boxes only).
//!
//! Not modelled: margin collapsing, `inline`/`inline-block` line boxes (laid out as
//! `block`), auto margins for centring (they count as 0). A box partly outside the frame
//! is clipped to it; one wholly outside (or empty) is not shown.

use super::{LayoutStream, ObjectFit, Placement, Resolution, place, snap, truncate};

/// Longest accepted stylesheet, in bytes.
pub const MAX_STYLESHEET_BYTES: usize = 64 * 1024;
/// Most rules (selector lists count once per selector) accepted.
pub const MAX_RULES: usize = 1024;
/// Most compound selectors in one selector.
const MAX_COMPOUNDS: usize = 32;

/// Why a stylesheet was refused: the line (1-based) and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct StylesheetError {
    /// 1-based line of the problem.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

fn err<T>(line: usize, message: impl Into<String>) -> Result<T, StylesheetError> {
    Err(StylesheetError {
        line,
        message: message.into(),
    })
}

/// A parsed stylesheet.
#[derive(Debug, Clone, PartialEq)]
pub struct Stylesheet {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq)]
struct Rule {
    selector: Selector,
    declarations: Vec<Declaration>,
}

#[derive(Debug, Clone, PartialEq)]
struct Selector {
    /// Compounds left to right; `combinators[k]` joins `compounds[k]` and `compounds[k+1]`.
    compounds: Vec<Compound>,
    combinators: Vec<Combinator>,
    /// (classes + pseudo-classes, type selectors), compared lexicographically.
    specificity: (u32, u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Combinator {
    /// `+`
    Adjacent,
    /// `~`
    General,
}

#[derive(Debug, Clone, PartialEq, Default)]
struct Compound {
    has_type: bool,
    classes: Vec<String>,
    pseudos: Vec<Pseudo>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Pseudo {
    /// `:nth-child(an+b)`; `:first-child` is (0, 1).
    Nth { a: i64, b: i64 },
    /// `:nth-last-child(an+b)`; `:last-child` is (0, 1).
    NthLast { a: i64, b: i64 },
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Declaration {
    property: Property,
    important: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Len {
    Auto,
    Px(f64),
    Percent(f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Position {
    #[default]
    Static,
    Relative,
    Absolute,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Float {
    #[default]
    None,
    Left,
    Right,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Clear {
    left: bool,
    right: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Property {
    Position(Position),
    Top(Len),
    Right(Len),
    Bottom(Len),
    Left(Len),
    Width(Len),
    Height(Len),
    MinWidth(Len),
    MinHeight(Len),
    MaxWidth(Len),
    MaxHeight(Len),
    /// Margins: top, right, bottom, left; `None` keeps that side.
    Margin([Option<Len>; 4]),
    ZIndex(Option<i32>),
    DisplayNone(bool),
    Float(Float),
    Clear(Clear),
    ObjectFit(ObjectFit),
    Ignored,
}

impl Stylesheet {
    /// Parses a stylesheet of the supported subset; see the module documentation.
    pub fn parse(text: &str) -> Result<Self, StylesheetError> {
        if text.len() > MAX_STYLESHEET_BYTES {
            return err(
                1,
                format!(
                    "stylesheet is {} bytes; at most {MAX_STYLESHEET_BYTES}",
                    text.len()
                ),
            );
        }
        let text = strip_comments(text)?;
        let mut rules = Vec::new();
        let mut rest = text.as_str();
        let mut line = 1;
        loop {
            let skipped = rest.len() - rest.trim_start().len();
            line += rest[..skipped].matches('\n').count();
            rest = &rest[skipped..];
            if rest.is_empty() {
                break;
            }
            if rest.starts_with('@') {
                return err(line, "at-rules (@media, @import, …) are not supported");
            }
            let Some(open) = rest.find(['{', '}', ';']) else {
                return err(
                    line,
                    format!("expected '{{' after selector \"{}\"", short(rest)),
                );
            };
            if !rest[open..].starts_with('{') {
                return err(
                    line + rest[..open].matches('\n').count(),
                    format!("expected '{{' after selector \"{}\"", short(&rest[..open])),
                );
            }
            let selector_text = &rest[..open];
            let selector_line = line;
            let body_line = line + selector_text.matches('\n').count();
            let body = &rest[open + 1..];
            let Some(close) = body.find(['{', '}']) else {
                return err(body_line, "'{' is never closed with '}'");
            };
            if body[close..].starts_with('{') {
                return err(
                    body_line + body[..close].matches('\n').count(),
                    "unexpected '{' inside a declaration block (nested rules are not supported)",
                );
            }
            let declarations = parse_declarations(&body[..close], body_line)?;
            for selector in parse_selector_list(selector_text, selector_line)? {
                if rules.len() == MAX_RULES {
                    return err(selector_line, format!("more than {MAX_RULES} rules"));
                }
                rules.push(Rule {
                    selector,
                    declarations: declarations.clone(),
                });
            }
            line = body_line + body[..close].matches('\n').count();
            rest = &body[close + 1..];
        }
        Ok(Self { rules })
    }

    /// Lays out `shown` (in document order) in a container of `res`.
    pub(crate) fn layout(&self, shown: &[&LayoutStream], res: Resolution) -> Vec<Placement> {
        let styles: Vec<Style> = (0..shown.len())
            .map(|i| self.computed_style(i, shown))
            .collect();
        Flow::new(res).run(shown, &styles)
    }

    fn computed_style(&self, index: usize, shown: &[&LayoutStream]) -> Style {
        // Cascade key: (important, specificity, rule index, declaration index); the
        // greatest applies last and wins.
        type Key = (bool, (u32, u32), usize, usize);
        let mut matched: Vec<(Key, Property)> = Vec::new();
        for (r, rule) in self.rules.iter().enumerate() {
            if rule.selector.matches(index, shown) {
                for (d, decl) in rule.declarations.iter().enumerate() {
                    let key = (decl.important, rule.selector.specificity, r, d);
                    matched.push((key, decl.property));
                }
            }
        }
        matched.sort_by_key(|(key, _)| *key);
        let mut style = Style::default();
        for (_, property) in matched {
            style.apply(property);
        }
        style
    }
}

fn short(s: &str) -> String {
    truncate(s.trim(), 40)
}

/// Replaces comments with spaces, keeping newlines (so line numbers stay right).
fn strip_comments(text: &str) -> Result<String, StylesheetError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut line = 1;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        line += rest[..start].matches('\n').count();
        let Some(end) = rest[start + 2..].find("*/") else {
            return err(line, "comment is never closed with */");
        };
        let comment = &rest[start..start + 2 + end + 2];
        for c in comment.chars() {
            out.push(if c == '\n' { '\n' } else { ' ' });
        }
        line += comment.matches('\n').count();
        rest = &rest[start + 2 + end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_' || !c.is_ascii()
}

fn parse_selector_list(text: &str, line: usize) -> Result<Vec<Selector>, StylesheetError> {
    let mut out = Vec::new();
    let mut line = line;
    for part in text.split(',') {
        let lead = part.len() - part.trim_start().len();
        let here = line + part[..lead].matches('\n').count();
        out.push(parse_selector(part.trim(), here)?);
        line += part.matches('\n').count();
    }
    Ok(out)
}

fn parse_selector(text: &str, line: usize) -> Result<Selector, StylesheetError> {
    if text.is_empty() {
        return err(line, "empty selector");
    }
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut compounds = Vec::new();
    let mut combinators = Vec::new();
    let mut specificity = (0u32, 0u32);
    loop {
        // One compound selector.
        let mut compound = Compound::default();
        let start = i;
        while i < chars.len() {
            let c = chars[i];
            if c == '.' {
                let (name, next) = ident(&chars, i + 1);
                if name.is_empty() {
                    return err(
                        line,
                        format!("'.' without a class name in \"{}\"", short(text)),
                    );
                }
                compound.classes.push(name);
                specificity.0 += 1;
                i = next;
            } else if c == ':' {
                if chars.get(i + 1) == Some(&':') {
                    return err(line, "pseudo-elements (::name) are not supported");
                }
                let (name, next) = ident(&chars, i + 1);
                i = next;
                let pseudo = match name.to_ascii_lowercase().as_str() {
                    "first-child" => Pseudo::Nth { a: 0, b: 1 },
                    "last-child" => Pseudo::NthLast { a: 0, b: 1 },
                    "nth-child" | "nth-last-child" => {
                        if chars.get(i) != Some(&'(') {
                            return err(line, format!(":{name} needs an argument, as :{name}(2)"));
                        }
                        let Some(close) = chars[i..].iter().position(|&c| c == ')') else {
                            return err(line, format!(":{name}( is never closed with ')'"));
                        };
                        let arg: String = chars[i + 1..i + close].iter().collect();
                        i += close + 1;
                        let (a, b) = parse_nth(&arg).ok_or_else(|| StylesheetError {
                            line,
                            message: format!(
                                "invalid :{name} argument \"{}\" (expected An+B, odd or even)",
                                short(&arg)
                            ),
                        })?;
                        if name.eq_ignore_ascii_case("nth-child") {
                            Pseudo::Nth { a, b }
                        } else {
                            Pseudo::NthLast { a, b }
                        }
                    }
                    "" => return err(line, "':' without a pseudo-class name"),
                    other => {
                        return err(
                            line,
                            format!(
                                "pseudo-class :{} is not supported (only :first-child, :last-child, :nth-child(), :nth-last-child())",
                                short(other)
                            ),
                        );
                    }
                };
                compound.pseudos.push(pseudo);
                specificity.0 += 1;
            } else if c.is_ascii_alphabetic() || c == '_' {
                if i != start {
                    return err(
                        line,
                        format!("unexpected element name in \"{}\"", short(text)),
                    );
                }
                let (name, next) = ident(&chars, i);
                if !name.eq_ignore_ascii_case("stream") {
                    return err(
                        line,
                        format!(
                            "element selector \"{}\" is not supported: only stream elements can be selected",
                            short(&name)
                        ),
                    );
                }
                compound.has_type = true;
                specificity.1 += 1;
                i = next;
            } else if c == '*' {
                return err(line, "the universal selector (*) is not supported");
            } else if c == '#' {
                return err(line, "ID selectors (#id) are not supported");
            } else if c == '[' {
                return err(line, "attribute selectors ([…]) are not supported");
            } else {
                break;
            }
        }
        if i == start {
            return err(line, format!("expected a selector in \"{}\"", short(text)));
        }
        compounds.push(compound);
        if compounds.len() > MAX_COMPOUNDS {
            return err(
                line,
                format!("more than {MAX_COMPOUNDS} compound selectors"),
            );
        }
        // A combinator, or the end.
        let ws_start = i;
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i == chars.len() {
            break;
        }
        match chars[i] {
            '+' => combinators.push(Combinator::Adjacent),
            '~' => combinators.push(Combinator::General),
            '>' => return err(line, "child selectors (a > b) are not supported"),
            c if i > ws_start => {
                let _ = c;
                return err(
                    line,
                    format!(
                        "descendant selectors (a b) are not supported, in \"{}\"",
                        short(text)
                    ),
                );
            }
            c => {
                return err(
                    line,
                    format!("unexpected '{c}' in selector \"{}\"", short(text)),
                );
            }
        }
        i += 1;
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i == chars.len() {
            return err(
                line,
                format!("selector \"{}\" ends with a combinator", short(text)),
            );
        }
    }
    Ok(Selector {
        compounds,
        combinators,
        specificity,
    })
}

fn ident(chars: &[char], mut i: usize) -> (String, usize) {
    let start = i;
    while i < chars.len() && is_ident_char(chars[i]) {
        i += 1;
    }
    (chars[start..i].iter().collect(), i)
}

/// `An+B`, `odd`, `even`, `n`, `-n+3`, `5`.
fn parse_nth(arg: &str) -> Option<(i64, i64)> {
    let s: String = arg.chars().filter(|c| !c.is_whitespace()).collect();
    let s = s.to_ascii_lowercase();
    match s.as_str() {
        "odd" => return Some((2, 1)),
        "even" => return Some((2, 0)),
        "" => return None,
        _ => {}
    }
    let num = |t: &str| -> Option<i64> {
        if t.len() > 9 || t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let signed = |t: &str| -> Option<i64> {
        match t.strip_prefix('-') {
            Some(r) => num(r).map(|v| -v),
            None => num(t.strip_prefix('+').unwrap_or(t)),
        }
    };
    match s.find('n') {
        None => Some((0, signed(&s)?)),
        Some(p) => {
            let a = match &s[..p] {
                "" | "+" => 1,
                "-" => -1,
                t => signed(t)?,
            };
            let rest = &s[p + 1..];
            let b = if rest.is_empty() {
                0
            } else if rest.starts_with('+') || rest.starts_with('-') {
                signed(rest)?
            } else {
                return None;
            };
            Some((a, b))
        }
    }
}

fn nth_matches(a: i64, b: i64, position: i64) -> bool {
    if a == 0 {
        return position == b;
    }
    let diff = position - b;
    diff % a == 0 && diff / a >= 0
}

impl Compound {
    fn matches(&self, index: usize, shown: &[&LayoutStream]) -> bool {
        let stream = shown[index];
        let position = index as i64 + 1;
        let from_end = (shown.len() - index) as i64;
        self.classes
            .iter()
            .all(|c| stream.classes.iter().any(|sc| sc == c))
            && self.pseudos.iter().all(|p| match *p {
                Pseudo::Nth { a, b } => nth_matches(a, b, position),
                Pseudo::NthLast { a, b } => nth_matches(a, b, from_end),
            })
    }
}

impl Selector {
    fn matches(&self, index: usize, shown: &[&LayoutStream]) -> bool {
        self.matches_from(self.compounds.len() - 1, index, shown)
    }

    /// Whether compounds `..=k` match with compound `k` on element `index`.
    fn matches_from(&self, k: usize, index: usize, shown: &[&LayoutStream]) -> bool {
        if !self.compounds[k].matches(index, shown) {
            return false;
        }
        if k == 0 {
            return true;
        }
        match self.combinators[k - 1] {
            Combinator::Adjacent => index > 0 && self.matches_from(k - 1, index - 1, shown),
            Combinator::General => (0..index).any(|j| self.matches_from(k - 1, j, shown)),
        }
    }
}

fn parse_declarations(body: &str, line: usize) -> Result<Vec<Declaration>, StylesheetError> {
    let mut out = Vec::new();
    let mut line = line;
    for part in body.split(';') {
        let lead = part.len() - part.trim_start().len();
        let here = line + part[..lead].matches('\n').count();
        line += part.matches('\n').count();
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((name, value)) = part.split_once(':') else {
            return err(
                here,
                format!("expected \"property: value\", found \"{}\"", short(part)),
            );
        };
        let name = name.trim().to_ascii_lowercase();
        let mut value = value.trim().to_ascii_lowercase();
        let mut important = false;
        if let Some(v) = value.strip_suffix("important") {
            let v = v.trim_end();
            if let Some(v) = v.strip_suffix('!') {
                important = true;
                value = v.trim_end().to_owned();
            }
        }
        if value.is_empty() {
            return err(here, format!("property {} has no value", short(&name)));
        }
        let property = parse_property(&name, &value).map_err(|message| StylesheetError {
            line: here,
            message,
        })?;
        out.push(Declaration {
            property,
            important,
        });
    }
    Ok(out)
}

fn parse_len(value: &str, allow_negative: bool, allow_auto: bool) -> Result<Len, String> {
    if value == "auto" {
        return if allow_auto {
            Ok(Len::Auto)
        } else {
            Err("auto is not allowed here".into())
        };
    }
    let (number, unit) = if let Some(n) = value.strip_suffix("px") {
        (n, "px")
    } else if let Some(n) = value.strip_suffix('%') {
        (n, "%")
    } else {
        (value, "")
    };
    let valid = !number.is_empty()
        && number.len() <= 16
        && number
            .chars()
            .enumerate()
            .all(|(i, c)| c.is_ascii_digit() || c == '.' || (i == 0 && (c == '-' || c == '+')));
    let parsed: Option<f64> = valid.then(|| number.parse().ok()).flatten();
    let Some(v) = parsed.filter(|v: &f64| v.is_finite()) else {
        return Err(format!(
            "\"{}\" is not a length (use px or %)",
            short(value)
        ));
    };
    if v < 0.0 && !allow_negative {
        return Err(format!("\"{}\" must not be negative", short(value)));
    }
    match unit {
        "px" => Ok(Len::Px(v)),
        "%" => Ok(Len::Percent(v)),
        _ if v == 0.0 => Ok(Len::Px(0.0)),
        _ => Err(format!("\"{}\" needs a unit (px or %)", short(value))),
    }
}

fn keyword<T: Copy>(value: &str, name: &str, options: &[(&str, T)]) -> Result<T, String> {
    options
        .iter()
        .find(|(k, _)| *k == value)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let allowed: Vec<&str> = options.iter().map(|(k, _)| *k).collect();
            format!(
                "invalid {name} \"{}\" (expected {})",
                short(value),
                allowed.join(", ")
            )
        })
}

fn parse_property(name: &str, value: &str) -> Result<Property, String> {
    use Property as P;
    let len = |neg: bool| parse_len(value, neg, true);
    Ok(match name {
        "position" => P::Position(keyword(
            value,
            name,
            &[
                ("static", Position::Static),
                ("relative", Position::Relative),
                ("absolute", Position::Absolute),
            ],
        )?),
        "top" => P::Top(len(true)?),
        "right" => P::Right(len(true)?),
        "bottom" => P::Bottom(len(true)?),
        "left" => P::Left(len(true)?),
        "width" => P::Width(len(false)?),
        "height" => P::Height(len(false)?),
        "min-width" => P::MinWidth(parse_len(value, false, false)?),
        "min-height" => P::MinHeight(parse_len(value, false, false)?),
        "max-width" => P::MaxWidth(if value == "none" {
            Len::Auto
        } else {
            len(false)?
        }),
        "max-height" => P::MaxHeight(if value == "none" {
            Len::Auto
        } else {
            len(false)?
        }),
        "margin" => {
            let parts: Result<Vec<Len>, String> = value
                .split_whitespace()
                .map(|v| parse_len(v, true, true))
                .collect();
            let p = parts?;
            let [t, r, b, l] = match p.as_slice() {
                [a] => [*a, *a, *a, *a],
                [a, b] => [*a, *b, *a, *b],
                [a, b, c] => [*a, *b, *c, *b],
                [a, b, c, d] => [*a, *b, *c, *d],
                _ => {
                    return Err(format!(
                        "margin takes 1 to 4 values, not \"{}\"",
                        short(value)
                    ));
                }
            };
            P::Margin([Some(t), Some(r), Some(b), Some(l)])
        }
        "margin-top" => P::Margin([Some(len(true)?), None, None, None]),
        "margin-right" => P::Margin([None, Some(len(true)?), None, None]),
        "margin-bottom" => P::Margin([None, None, Some(len(true)?), None]),
        "margin-left" => P::Margin([None, None, None, Some(len(true)?)]),
        "z-index" => P::ZIndex(if value == "auto" {
            None
        } else {
            let v: i32 = value
                .parse()
                .ok()
                .filter(|v: &i32| v.unsigned_abs() <= 1_000_000)
                .ok_or_else(|| {
                    format!("invalid z-index \"{}\" (expected an integer)", short(value))
                })?;
            Some(v)
        }),
        "display" => P::DisplayNone(keyword(
            value,
            name,
            &[
                ("none", true),
                ("block", false),
                ("inline", false),
                ("inline-block", false),
            ],
        )?),
        "float" => P::Float(keyword(
            value,
            name,
            &[
                ("none", Float::None),
                ("left", Float::Left),
                ("right", Float::Right),
            ],
        )?),
        "clear" => {
            let c = |left, right| Clear { left, right };
            P::Clear(keyword(
                value,
                name,
                &[
                    ("none", c(false, false)),
                    ("left", c(true, false)),
                    ("right", c(false, true)),
                    ("both", c(true, true)),
                    ("initial", c(false, false)),
                    ("inherit", c(false, false)),
                ],
            )?)
        }
        "object-fit" => P::ObjectFit(keyword(
            value,
            name,
            &[("contain", ObjectFit::Contain), ("cover", ObjectFit::Cover)],
        )?),
        "overflow" => {
            keyword(value, name, &[("hidden", ())])?;
            P::Ignored
        }
        other => {
            return Err(format!(
                "property \"{}\" is not supported (supported: position, top, right, bottom, left, width, height, min-/max-width/height, margin, z-index, display, float, clear, object-fit, overflow)",
                short(other)
            ));
        }
    })
}

/// The computed style of one stream element.
#[derive(Debug, Clone, Copy)]
struct Style {
    display_none: bool,
    position: Position,
    float: Float,
    clear: Clear,
    top: Len,
    right: Len,
    bottom: Len,
    left: Len,
    width: Len,
    height: Len,
    min_width: Len,
    min_height: Len,
    max_width: Len,
    max_height: Len,
    /// top, right, bottom, left.
    margin: [Len; 4],
    z_index: Option<i32>,
    fit: ObjectFit,
}

impl Default for Style {
    /// Initial values plus OpenTok's `stream { display: block; margin: 0 }`.
    fn default() -> Self {
        Self {
            display_none: false,
            position: Position::Static,
            float: Float::None,
            clear: Clear::default(),
            top: Len::Auto,
            right: Len::Auto,
            bottom: Len::Auto,
            left: Len::Auto,
            width: Len::Auto,
            height: Len::Auto,
            min_width: Len::Px(0.0),
            min_height: Len::Px(0.0),
            max_width: Len::Auto,
            max_height: Len::Auto,
            margin: [Len::Px(0.0); 4],
            z_index: None,
            fit: ObjectFit::Contain,
        }
    }
}

impl Style {
    fn apply(&mut self, p: Property) {
        match p {
            Property::Position(v) => self.position = v,
            Property::Top(v) => self.top = v,
            Property::Right(v) => self.right = v,
            Property::Bottom(v) => self.bottom = v,
            Property::Left(v) => self.left = v,
            Property::Width(v) => self.width = v,
            Property::Height(v) => self.height = v,
            Property::MinWidth(v) => self.min_width = v,
            Property::MinHeight(v) => self.min_height = v,
            Property::MaxWidth(v) => self.max_width = v,
            Property::MaxHeight(v) => self.max_height = v,
            Property::Margin(sides) => {
                for (slot, v) in self.margin.iter_mut().zip(sides) {
                    if let Some(v) = v {
                        *slot = v;
                    }
                }
            }
            Property::ZIndex(v) => self.z_index = v,
            Property::DisplayNone(v) => self.display_none = v,
            Property::Float(v) => self.float = v,
            Property::Clear(v) => self.clear = v,
            Property::ObjectFit(v) => self.fit = v,
            Property::Ignored => {}
        }
    }
}

/// `len` against `base`; `None` for `auto`.
fn resolve(len: Len, base: f64) -> Option<f64> {
    match len {
        Len::Auto => None,
        Len::Px(v) => Some(v),
        Len::Percent(p) => Some(base * p / 100.0),
    }
}

fn clamp_size(value: f64, min: Len, max: Len, base: f64) -> f64 {
    let mut v = value;
    if let Some(max) = resolve(max, base) {
        v = v.min(max);
    }
    if let Some(min) = resolve(min, base) {
        v = v.max(min);
    }
    v.max(0.0)
}

#[derive(Debug, Clone, Copy)]
struct FloatBox {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    left: bool,
}

struct Flow {
    res: Resolution,
    w: f64,
    h: f64,
    flow_y: f64,
    floats: Vec<FloatBox>,
}

/// Paint layer of a box (lower first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    Negative,
    Block,
    Float,
    Positioned,
}

impl Flow {
    fn new(res: Resolution) -> Self {
        Self {
            res,
            w: f64::from(res.width),
            h: f64::from(res.height),
            flow_y: 0.0,
            floats: Vec::new(),
        }
    }

    fn clear_y(&self, clear: Clear) -> f64 {
        self.floats
            .iter()
            .filter(|f| (f.left && clear.left) || (!f.left && clear.right))
            .map(|f| f.y + f.h)
            .fold(0.0, f64::max)
    }

    /// Places a float's margin box of `mw`×`mh` and returns its top-left corner.
    fn place_float(&mut self, mw: f64, mh: f64, left: bool, clear: Clear) -> (f64, f64) {
        let last_top = self.floats.last().map_or(0.0, |f| f.y);
        let mut y = self.flow_y.max(last_top).max(self.clear_y(clear));
        // Each pass either places the box or moves below a float: bounded by the floats.
        for _ in 0..=self.floats.len() {
            let band_end = y + mh.max(1e-6);
            let overlapping: Vec<FloatBox> = self
                .floats
                .iter()
                .copied()
                .filter(|f| f.y < band_end && f.y + f.h > y && f.h > 0.0)
                .collect();
            let left_edge = overlapping
                .iter()
                .filter(|f| f.left)
                .map(|f| f.x + f.w)
                .fold(0.0, f64::max);
            let right_edge = overlapping
                .iter()
                .filter(|f| !f.left)
                .map(|f| f.x)
                .fold(self.w, f64::min);
            if overlapping.is_empty() || right_edge - left_edge >= mw - 1e-6 {
                let x = if left { left_edge } else { right_edge - mw };
                self.floats.push(FloatBox {
                    x,
                    y,
                    w: mw,
                    h: mh,
                    left,
                });
                return (x, y);
            }
            let next = overlapping
                .iter()
                .map(|f| f.y + f.h)
                .filter(|b| *b > y)
                .fold(f64::INFINITY, f64::min);
            if !next.is_finite() {
                break;
            }
            y = next;
        }
        let x = if left { 0.0 } else { self.w - mw };
        self.floats.push(FloatBox {
            x,
            y,
            w: mw,
            h: mh,
            left,
        });
        (x, y)
    }

    fn run(mut self, shown: &[&LayoutStream], styles: &[Style]) -> Vec<Placement> {
        // (layer, z, document index, placement)
        let mut boxes: Vec<(Layer, i32, usize, Placement)> = Vec::new();
        for (i, (stream, s)) in shown.iter().zip(styles).enumerate() {
            if s.display_none {
                continue;
            }
            let (fw, fh) = (self.w, self.h);
            // Every margin percentage is of the container's width (CSS 2, 8.3).
            let [mt, mr, mb, ml] = s.margin.map(|m| resolve(m, fw).unwrap_or(0.0));
            let width = resolve(s.width, fw);
            let height = resolve(s.height, fh);
            let (left, right) = (resolve(s.left, fw), resolve(s.right, fw));
            let (top, bottom) = (resolve(s.top, fh), resolve(s.bottom, fh));
            let (x, y, w, h, layer) = if s.position == Position::Absolute {
                let w = width.unwrap_or(match (left, right) {
                    (Some(l), Some(r)) => fw - l - r - ml - mr,
                    _ => 0.0,
                });
                let h = height.unwrap_or(match (top, bottom) {
                    (Some(t), Some(b)) => fh - t - b - mt - mb,
                    _ => 0.0,
                });
                let (w, h) = (
                    clamp_size(w, s.min_width, s.max_width, fw),
                    clamp_size(h, s.min_height, s.max_height, fh),
                );
                let x = match (left, right) {
                    (Some(l), _) => l + ml,
                    (None, Some(r)) => fw - r - mr - w,
                    (None, None) => ml,
                };
                let y = match (top, bottom) {
                    (Some(t), _) => t + mt,
                    (None, Some(b)) => fh - b - mb - h,
                    (None, None) => self.flow_y + mt,
                };
                (x, y, w, h, Layer::Positioned)
            } else {
                let (mut x, mut y, w, h, layer) = if s.float != Float::None {
                    let w = clamp_size(width.unwrap_or(0.0), s.min_width, s.max_width, fw);
                    let h = clamp_size(height.unwrap_or(0.0), s.min_height, s.max_height, fh);
                    let (mx, my) =
                        self.place_float(w + ml + mr, h + mt + mb, s.float == Float::Left, s.clear);
                    (mx + ml, my + mt, w, h, Layer::Float)
                } else {
                    self.flow_y = self.flow_y.max(self.clear_y(s.clear));
                    let w = clamp_size(width.unwrap_or(fw - ml - mr), s.min_width, s.max_width, fw);
                    let h = clamp_size(height.unwrap_or(0.0), s.min_height, s.max_height, fh);
                    let y = self.flow_y + mt;
                    self.flow_y = y + h + mb;
                    (ml, y, w, h, Layer::Block)
                };
                if s.position == Position::Relative {
                    x += left.or(right.map(|r| -r)).unwrap_or(0.0);
                    y += top.or(bottom.map(|b| -b)).unwrap_or(0.0);
                }
                let layer = if s.position == Position::Relative {
                    Layer::Positioned
                } else {
                    layer
                };
                (x, y, w, h, layer)
            };
            let (layer, z) = match (layer, s.z_index) {
                (Layer::Positioned, Some(z)) if z < 0 => (Layer::Negative, z),
                (Layer::Positioned, Some(z)) => (Layer::Positioned, z),
                (layer, _) => (layer, 0),
            };
            if let Some(slot) = snap(x, y, w, h, self.res) {
                boxes.push((layer, z, i, place(stream, slot, z, s.fit)));
            }
        }
        boxes.sort_by_key(|(layer, z, i, _)| (*layer, *z, *i));
        boxes.into_iter().map(|(.., p)| p).collect()
    }
}
