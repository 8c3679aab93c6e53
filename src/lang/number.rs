//! Terraform's numbers: arbitrary-precision binary floating point with a precision carried by
//! each value, as Go's `big.Float` under go-cty.
//!
//! Where the precision comes from matters (`terraform-values.md` §2): literals and strings are
//! parsed at 512 bits, integers from Go `int` sources (`length`, state) carry 64 bits, and
//! `float64` functions (`pow`, `log`) 53. `+ - /` round to the larger operand precision;
//! `*` works at 512 bits and keeps what the product needs. Printing is plain decimal with the
//! fewest digits that round back to the same value at its precision (Go's `Text('f', -1)`),
//! so `1e400` prints all 401 digits and `1/3` about 155.

use num_bigint::{BigInt, BigUint, Sign};
use num_integer::Integer;
use num_traits::{One, ToPrimitive, Zero};
use std::cmp::Ordering;

/// Literals and strings are parsed at this precision (go-cty's `ParseNumberVal`).
pub const PARSE_PREC: u32 = 512;
/// Integers from Go `int` sources.
pub const INT_PREC: u32 = 64;
/// Results of `float64` arithmetic.
pub const FLOAT_PREC: u32 = 53;

#[derive(Clone, Debug)]
enum Mag {
    Zero,
    /// `mant × 2^exp`, `mant` odd.
    Finite {
        mant: BigUint,
        exp: i64,
    },
    Inf,
}

#[derive(Clone, Debug)]
pub struct Number {
    neg: bool,
    mag: Mag,
    prec: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NumError {
    /// `0/0`, `Inf/Inf`, `Inf-Inf`, `0*Inf`.
    NaN(&'static str),
}

impl std::fmt::Display for NumError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            NumError::NaN(m) => f.write_str(m),
        }
    }
}

/// Rounds `mant × 2^exp` (plus a sticky bit for discarded lower bits) to `prec` bits, to
/// nearest even, and normalises the result.
fn round(neg: bool, mant: BigUint, exp: i64, sticky: bool, prec: u32) -> Number {
    let bits = mant.bits() as i64;
    if mant.is_zero() {
        return Number {
            neg,
            mag: Mag::Zero,
            prec,
        };
    }
    let (mut mant, mut exp) = (mant, exp);
    if bits > prec as i64 {
        let s = (bits - prec as i64) as u64;
        let low_mask = (BigUint::one() << s) - BigUint::one();
        let low = &mant & &low_mask;
        let half = BigUint::one() << (s - 1);
        let mut q = mant >> s;
        let up = match low.cmp(&half) {
            Ordering::Greater => true,
            Ordering::Less => false,
            Ordering::Equal => sticky || q.is_odd(),
        };
        if up {
            q += 1u32;
        }
        mant = q;
        exp += s as i64;
    }
    normalise(neg, mant, exp, prec)
}

fn normalise(neg: bool, mant: BigUint, exp: i64, prec: u32) -> Number {
    if mant.is_zero() {
        return Number {
            neg,
            mag: Mag::Zero,
            prec,
        };
    }
    let tz = mant.trailing_zeros().unwrap_or(0);
    Number {
        neg,
        mag: Mag::Finite {
            mant: mant >> tz,
            exp: exp + tz as i64,
        },
        prec,
    }
}

impl Number {
    pub fn zero() -> Number {
        Number {
            neg: false,
            mag: Mag::Zero,
            prec: INT_PREC,
        }
    }

    pub fn infinity(neg: bool) -> Number {
        Number {
            neg,
            mag: Mag::Inf,
            prec: PARSE_PREC,
        }
    }

    pub fn from_i64(v: i64) -> Number {
        let neg = v < 0;
        normalise(neg, BigUint::from(v.unsigned_abs()), 0, INT_PREC)
    }

    pub fn from_u64(v: u64) -> Number {
        normalise(false, BigUint::from(v), 0, INT_PREC)
    }

    pub fn from_usize(v: usize) -> Number {
        Number::from_u64(v as u64)
    }

    /// A Go `SetInt`: precision is the larger of 64 and the integer's bit length.
    pub fn from_bigint(v: &BigInt) -> Number {
        let prec = (v.bits() as u32).max(INT_PREC);
        normalise(v.sign() == Sign::Minus, v.magnitude().clone(), 0, prec)
    }

    /// A `float64` result (53 bits). NaN is not a number here: `None`.
    pub fn from_f64(f: f64) -> Option<Number> {
        if f.is_nan() {
            return None;
        }
        if f.is_infinite() {
            return Some(Number {
                neg: f < 0.0,
                mag: Mag::Inf,
                prec: FLOAT_PREC,
            });
        }
        let neg = f.is_sign_negative();
        if f == 0.0 {
            return Some(Number {
                neg,
                mag: Mag::Zero,
                prec: FLOAT_PREC,
            });
        }
        let bits = f.abs().to_bits();
        let exp_bits = ((bits >> 52) & 0x7ff) as i64;
        let frac = bits & ((1u64 << 52) - 1);
        let (mant, exp) = if exp_bits == 0 {
            (frac, -1074)
        } else {
            (frac | (1u64 << 52), exp_bits - 1075)
        };
        Some(normalise(neg, BigUint::from(mant), exp, FLOAT_PREC))
    }

    /// Parses a decimal number as go-cty does (`big.ParseFloat(s, 10, 512, ToNearestEven)`):
    /// an optional sign, digits with an optional point, an optional exponent, or `Inf`.
    /// Anything else (spaces, `0x`, `_`, `NaN`) is `None`.
    pub fn parse(s: &str) -> Option<Number> {
        Number::parse_prec(s, PARSE_PREC)
    }

    pub fn parse_prec(s: &str, prec: u32) -> Option<Number> {
        let (neg, body) = match s.as_bytes().first()? {
            b'+' => (false, &s[1..]),
            b'-' => (true, &s[1..]),
            _ => (false, s),
        };
        if body == "Inf" || body == "inf" {
            return Some(Number {
                neg,
                mag: Mag::Inf,
                prec,
            });
        }
        let (num, exp_part) = match body.find(['e', 'E']) {
            Some(i) => (&body[..i], Some(&body[i + 1..])),
            None => (body, None),
        };
        let (int_part, frac_part) = match num.find('.') {
            Some(i) => (&num[..i], &num[i + 1..]),
            None => (num, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        if !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let mut exp10: i64 = match exp_part {
            None => 0,
            Some(e) => {
                let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                // Exponents beyond this are infinite or zero at any precision we carry.
                let v: i64 = digits.parse().unwrap_or(i64::MAX / 4).min(1 << 40);
                if e.starts_with('-') {
                    -v
                } else {
                    v
                }
            }
        };
        let digits = format!("{int_part}{frac_part}");
        exp10 -= frac_part.len() as i64;
        let d = BigUint::parse_bytes(digits.as_bytes(), 10).unwrap_or_default();
        if d.is_zero() {
            return Some(Number {
                neg,
                mag: Mag::Zero,
                prec,
            });
        }
        if exp10.unsigned_abs() > 400_000_000 {
            // Go's exponent is an int32 of binary digits: beyond it, overflow or underflow.
            return Some(if exp10 > 0 {
                Number {
                    neg,
                    mag: Mag::Inf,
                    prec,
                }
            } else {
                Number {
                    neg,
                    mag: Mag::Zero,
                    prec,
                }
            });
        }
        if exp10 >= 0 {
            let v = d * BigUint::from(10u32).pow(exp10 as u32);
            return Some(round(neg, v, 0, false, prec));
        }
        let den = BigUint::from(10u32).pow((-exp10) as u32);
        Some(quotient(neg, &d, 0, &den, 0, prec))
    }

    pub fn prec(&self) -> u32 {
        self.prec
    }

    pub fn is_zero(&self) -> bool {
        matches!(self.mag, Mag::Zero)
    }

    pub fn is_inf(&self) -> bool {
        matches!(self.mag, Mag::Inf)
    }

    pub fn is_neg(&self) -> bool {
        self.neg
    }

    /// Negative and not zero.
    pub fn is_negative(&self) -> bool {
        self.neg && !self.is_zero()
    }

    pub fn is_int(&self) -> bool {
        match &self.mag {
            Mag::Zero => true,
            Mag::Finite { exp, .. } => *exp >= 0,
            Mag::Inf => false,
        }
    }

    /// Fewest bits that represent the value exactly (Go's `MinPrec`).
    pub fn min_prec(&self) -> u32 {
        match &self.mag {
            Mag::Finite { mant, .. } => mant.bits() as u32,
            _ => 0,
        }
    }

    pub fn with_prec(mut self, prec: u32) -> Number {
        if let Mag::Finite { mant, exp } = self.mag {
            return round(self.neg, mant, exp, false, prec);
        }
        self.prec = prec;
        self
    }

    pub fn neg(&self) -> Number {
        let mut n = self.clone();
        n.neg = !n.neg;
        n
    }

    pub fn abs(&self) -> Number {
        let mut n = self.clone();
        n.neg = false;
        n
    }

    /// The integer part, truncated toward zero (`None` for infinities).
    pub fn trunc_bigint(&self) -> Option<BigInt> {
        match &self.mag {
            Mag::Zero => Some(BigInt::zero()),
            Mag::Inf => None,
            Mag::Finite { mant, exp } => {
                let m = if *exp >= 0 {
                    mant << (*exp as u64)
                } else {
                    mant >> ((-exp) as u64)
                };
                Some(BigInt::from_biguint(
                    if self.neg { Sign::Minus } else { Sign::Plus },
                    m,
                ))
            }
        }
    }

    /// The value as an `i64` when it is a whole number in range.
    pub fn to_i64(&self) -> Option<i64> {
        if !self.is_int() {
            return None;
        }
        self.trunc_bigint()?.to_i64()
    }

    /// Nearest `f64` (infinities kept).
    pub fn to_f64(&self) -> f64 {
        match &self.mag {
            Mag::Zero => {
                if self.neg {
                    -0.0
                } else {
                    0.0
                }
            }
            Mag::Inf => {
                if self.neg {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                }
            }
            Mag::Finite { .. } => {
                let r = self.clone().with_prec(53);
                let Mag::Finite { mant, exp } = &r.mag else {
                    return 0.0;
                };
                let m = mant.to_f64().unwrap_or(f64::INFINITY);
                let v = if *exp > 2000 {
                    f64::INFINITY
                } else if *exp < -2200 {
                    0.0
                } else {
                    m * 2f64.powi(*exp as i32)
                };
                // powi underflows for very small exponents: go in two steps.
                let v = if v == 0.0 && *exp < -1000 {
                    m * 2f64.powi((*exp / 2) as i32) * 2f64.powi((*exp - *exp / 2) as i32)
                } else {
                    v
                };
                if self.neg {
                    -v
                } else {
                    v
                }
            }
        }
    }

    fn parts(&self) -> (BigUint, i64) {
        match &self.mag {
            Mag::Finite { mant, exp } => (mant.clone(), *exp),
            _ => (BigUint::zero(), 0),
        }
    }

    pub fn add(&self, other: &Number) -> Result<Number, NumError> {
        let prec = self.prec.max(other.prec);
        match (&self.mag, &other.mag) {
            (Mag::Inf, Mag::Inf) if self.neg != other.neg => {
                Err(NumError::NaN("can't compute sum of opposing infinities"))
            }
            (Mag::Inf, _) => Ok(Number {
                neg: self.neg,
                mag: Mag::Inf,
                prec,
            }),
            (_, Mag::Inf) => Ok(Number {
                neg: other.neg,
                mag: Mag::Inf,
                prec,
            }),
            (Mag::Zero, Mag::Zero) => Ok(Number {
                neg: self.neg && other.neg,
                mag: Mag::Zero,
                prec,
            }),
            (Mag::Zero, _) => Ok(other.clone().with_prec(prec)),
            (_, Mag::Zero) => Ok(self.clone().with_prec(prec)),
            _ => {
                let (ma, ea) = self.parts();
                let (mb, eb) = other.parts();
                let e = ea.min(eb);
                let a = BigInt::from_biguint(
                    if self.neg { Sign::Minus } else { Sign::Plus },
                    ma << ((ea - e) as u64),
                );
                let b = BigInt::from_biguint(
                    if other.neg { Sign::Minus } else { Sign::Plus },
                    mb << ((eb - e) as u64),
                );
                let s = a + b;
                let neg = s.sign() == Sign::Minus;
                Ok(round(neg, s.magnitude().clone(), e, false, prec))
            }
        }
    }

    pub fn sub(&self, other: &Number) -> Result<Number, NumError> {
        self.add(&other.neg())
            .map_err(|_| NumError::NaN("can't subtract infinity from itself"))
    }

    /// go-cty's Multiply: the exact product at 512 bits, kept at the larger operand precision
    /// or what the product needs, whichever is more.
    pub fn mul(&self, other: &Number) -> Result<Number, NumError> {
        let neg = self.neg != other.neg;
        let base = self.prec.max(other.prec);
        match (&self.mag, &other.mag) {
            (Mag::Inf, Mag::Zero) | (Mag::Zero, Mag::Inf) => {
                Err(NumError::NaN("can't multiply zero by infinity"))
            }
            (Mag::Inf, _) | (_, Mag::Inf) => Ok(Number {
                neg,
                mag: Mag::Inf,
                prec: base,
            }),
            (Mag::Zero, _) | (_, Mag::Zero) => Ok(Number {
                neg,
                mag: Mag::Zero,
                prec: base,
            }),
            _ => {
                let (ma, ea) = self.parts();
                let (mb, eb) = other.parts();
                let mut r = round(neg, ma * mb, ea + eb, false, PARSE_PREC);
                r.prec = base.max(r.min_prec());
                Ok(r)
            }
        }
    }

    pub fn div(&self, other: &Number) -> Result<Number, NumError> {
        let neg = self.neg != other.neg;
        let prec = self.prec.max(other.prec);
        match (&self.mag, &other.mag) {
            (Mag::Zero, Mag::Zero) | (Mag::Inf, Mag::Inf) => Err(NumError::NaN(
                "can't divide zero by zero or infinity by infinity",
            )),
            (Mag::Inf, _) | (_, Mag::Zero) => Ok(Number {
                neg,
                mag: Mag::Inf,
                prec,
            }),
            (Mag::Zero, _) | (_, Mag::Inf) => Ok(Number {
                neg,
                mag: Mag::Zero,
                prec,
            }),
            _ => {
                let (ma, ea) = self.parts();
                let (mb, eb) = other.parts();
                Ok(quotient(neg, &ma, ea, &mb, eb, prec))
            }
        }
    }

    /// go-cty's Modulo: truncated, so the result has the dividend's sign; `x % 0` is `x`.
    pub fn rem(&self, other: &Number) -> Result<Number, NumError> {
        if self.is_inf() || other.is_inf() {
            return self.mul(other);
        }
        if other.is_zero() {
            return Ok(self.clone());
        }
        let q = self.div(other)?;
        let qi = q.trunc_bigint().unwrap_or_default();
        let qn = Number::from_bigint(&qi).with_prec(self.prec.max(qi.bits() as u32));
        let work = other.mul(&qn)?;
        let mut r = self.sub(&work)?;
        r.prec = self.prec.max(r.prec.min(self.prec.max(other.prec)));
        Ok(r)
    }

    fn compare(&self, other: &Number) -> Ordering {
        let rank = |n: &Number| -> i8 {
            match (&n.mag, n.neg) {
                (Mag::Inf, true) => -2,
                (Mag::Inf, false) => 2,
                (Mag::Zero, _) => 0,
                (_, true) => -1,
                (_, false) => 1,
            }
        };
        let (ra, rb) = (rank(self), rank(other));
        if ra != rb || ra.abs() != 1 {
            return ra.cmp(&rb);
        }
        let (ma, ea) = self.parts();
        let (mb, eb) = other.parts();
        let e = ea.min(eb);
        let a = ma << ((ea - e) as u64);
        let b = mb << ((eb - e) as u64);
        let mag = a.cmp(&b);
        if self.neg {
            mag.reverse()
        } else {
            mag
        }
    }

    pub fn floor(&self) -> Number {
        self.integral(|n| n.neg)
    }

    pub fn ceil(&self) -> Number {
        self.integral(|n| !n.neg)
    }

    /// Truncates, then steps away from zero when `away(self)` and a fraction was dropped.
    fn integral(&self, away: impl Fn(&Number) -> bool) -> Number {
        if self.is_int() || self.is_inf() {
            return self.clone();
        }
        let t = self.trunc_bigint().unwrap_or_default();
        let t = if away(self) {
            if self.neg {
                t - 1
            } else {
                t + 1
            }
        } else {
            t
        };
        let mut n = Number::from_bigint(&t);
        n.prec = self.prec;
        n
    }

    /// Plain decimal with the fewest digits that round back to this value at its precision
    /// (Go's `big.Float.Text('f', -1)`); infinities as `+Inf` / `-Inf`.
    pub fn to_text(&self) -> String {
        let (mant, exp) = match &self.mag {
            Mag::Inf => {
                return if self.neg {
                    "-Inf".into()
                } else {
                    "+Inf".into()
                }
            }
            Mag::Zero => return if self.neg { "-0".into() } else { "0".into() },
            Mag::Finite { mant, exp } => (mant, *exp),
        };
        let mut d = Decimal::from_binary(mant, exp);
        round_shortest(&mut d, mant, exp, self.prec);
        let mut out = String::new();
        if self.neg {
            out.push('-');
        }
        // fmtF with prec = max(len(mant) - exp, 0).
        out.push_str(&fmt_f((d.mant.len() as i64 - d.exp).max(0), &d));
        out
    }
}

/// A Go `fmt` verb on a `big.Float`: `f`, `e`/`E` or `g`/`G` with an optional precision
/// (`None` is 6 for `f` and `e`, shortest for `g`). The sign is included; width and flags are
/// the caller's.
pub fn format_verb(n: &Number, verb: char, prec: Option<usize>) -> String {
    let sign = if n.neg { "-" } else { "" };
    let (mant, exp) = match &n.mag {
        Mag::Inf => return format!("{}Inf", if n.neg { "-" } else { "+" }),
        Mag::Zero => (None, 0),
        Mag::Finite { mant, exp } => (Some(mant), *exp),
    };
    let mut d = match mant {
        Some(m) => Decimal::from_binary(m, exp),
        None => Decimal {
            mant: Vec::new(),
            exp: 0,
        },
    };
    let lower = verb.to_ascii_lowercase();
    let shortest = prec.is_none() && lower == 'g';
    let mut prec = match (prec, lower) {
        (Some(p), _) => p as i64,
        (None, 'g') => -1,
        (None, _) => 6,
    };
    if shortest {
        if let Some(m) = mant {
            round_shortest(&mut d, m, exp, n.prec);
        }
        prec = d.mant.len() as i64;
    } else {
        match lower {
            'e' => round_at(&mut d, 1 + prec),
            'f' => {
                let at = d.exp + prec;
                round_at(&mut d, at)
            }
            _ => {
                if prec == 0 {
                    prec = 1;
                }
                round_at(&mut d, prec)
            }
        }
    }
    let body = match lower {
        'e' => fmt_e(verb, prec, &d),
        'f' => fmt_f(prec, &d),
        _ => {
            let mut eprec = prec;
            if eprec > d.mant.len() as i64 && d.mant.len() as i64 >= d.exp {
                eprec = d.mant.len() as i64;
            }
            if shortest {
                eprec = 6;
            }
            let x = d.exp - 1;
            if x < -4 || x >= eprec {
                let p = prec.min(d.mant.len() as i64);
                fmt_e(if verb == 'G' { 'E' } else { 'e' }, p - 1, &d)
            } else {
                let p = if prec > d.exp {
                    d.mant.len() as i64
                } else {
                    prec
                };
                fmt_f((p - d.exp).max(0), &d)
            }
        }
    };
    format!("{sign}{body}")
}

fn round_at(d: &mut Decimal, n: i64) {
    if n >= 0 {
        d.round(n as usize);
    }
}

fn fmt_f(prec: i64, d: &Decimal) -> String {
    let mut out = String::new();
    if d.exp > 0 {
        let m = (d.mant.len() as i64).min(d.exp) as usize;
        out.push_str(std::str::from_utf8(&d.mant[..m]).unwrap_or("0"));
        for _ in m as i64..d.exp {
            out.push('0');
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 0..prec {
            out.push(d.at(d.exp + i) as char);
        }
    }
    out
}

fn fmt_e(verb: char, prec: i64, d: &Decimal) -> String {
    let mut out = String::new();
    out.push(d.mant.first().map(|c| *c as char).unwrap_or('0'));
    if prec > 0 {
        out.push('.');
        let mut i = 1usize;
        let m = d.mant.len().min(prec as usize + 1);
        if i < m {
            out.push_str(std::str::from_utf8(&d.mant[i..m]).unwrap_or(""));
            i = m;
        }
        while i as i64 <= prec {
            out.push('0');
            i += 1;
        }
    }
    out.push(verb);
    let x = if d.mant.is_empty() { 0 } else { d.exp - 1 };
    out.push(if x < 0 { '-' } else { '+' });
    let x = x.abs();
    if x < 10 {
        out.push('0');
    }
    out.push_str(&x.to_string());
    out
}

/// `(na × 2^ea) / (nb × 2^eb)` rounded to `prec` bits.
fn quotient(neg: bool, na: &BigUint, ea: i64, nb: &BigUint, eb: i64, prec: u32) -> Number {
    // Scale the numerator so the quotient has at least prec + 2 bits.
    let want = prec as i64 + 2;
    let have = na.bits() as i64 - nb.bits() as i64;
    let k = (want - have + 1).max(0) as u64;
    let (q, r) = (na << k).div_rem(nb);
    round(neg, q, ea - eb - k as i64, !r.is_zero(), prec)
}

/// A decimal `0.mant × 10^exp` with ASCII digits and no leading or trailing zeros (Go's
/// `math/big.decimal`).
struct Decimal {
    mant: Vec<u8>,
    exp: i64,
}

impl Decimal {
    fn from_binary(m: &BigUint, shift: i64) -> Decimal {
        let (digits, point) = if shift >= 0 {
            let s = (m << (shift as u64)).to_str_radix(10);
            let n = s.len() as i64;
            (s, n)
        } else {
            let k = (-shift) as u32;
            let s = (m * BigUint::from(5u32).pow(k)).to_str_radix(10);
            let n = s.len() as i64 - k as i64;
            (s, n)
        };
        let mut d = Decimal {
            mant: digits.into_bytes(),
            exp: point,
        };
        d.trim();
        d
    }

    fn trim(&mut self) {
        while self.mant.last() == Some(&b'0') {
            self.mant.pop();
        }
        if self.mant.is_empty() {
            self.exp = 0;
        }
    }

    fn at(&self, i: i64) -> u8 {
        if i >= 0 && (i as usize) < self.mant.len() {
            self.mant[i as usize]
        } else {
            b'0'
        }
    }

    fn round_down(&mut self, n: usize) {
        if n >= self.mant.len() {
            return;
        }
        self.mant.truncate(n);
        self.trim();
    }

    fn round_up(&mut self, n: usize) {
        if n >= self.mant.len() {
            return;
        }
        let mut n = n;
        while n > 0 && self.mant[n - 1] >= b'9' {
            n -= 1;
        }
        if n == 0 {
            self.mant = vec![b'1'];
            self.exp += 1;
            return;
        }
        self.mant[n - 1] += 1;
        self.mant.truncate(n);
    }

    fn round(&mut self, n: usize) {
        if n >= self.mant.len() {
            return;
        }
        let up = if self.mant[n] == b'5' && n + 1 == self.mant.len() {
            n > 0 && (self.mant[n - 1] - b'0') & 1 != 0
        } else {
            self.mant[n] >= b'5'
        };
        if up {
            self.round_up(n)
        } else {
            self.round_down(n)
        }
    }
}

/// Go's `roundShortest`: the shortest decimal in the rounding interval of `mant × 2^exp` at
/// precision `prec`.
fn round_shortest(d: &mut Decimal, mant: &BigUint, exp: i64, prec: u32) {
    if d.mant.is_empty() {
        return;
    }
    // Go keeps x.exp as the binary exponent of 0.mant; ours is the exponent of the lsb.
    let bits = mant.bits() as i64;
    let mut m = mant.clone();
    let mut e = exp; // value = m × 2^e
    let s = bits - (prec as i64 + 1);
    if s < 0 {
        m <<= (-s) as u64;
    } else if s > 0 {
        m >>= s as u64;
    }
    e += s;
    let lower = Decimal::from_binary(&(&m - 1u32), e);
    let upper = Decimal::from_binary(&(&m + 1u32), e);
    let inclusive = !m.bit(1);
    // Digits are compared position by position, as Go does (without aligning exponents).
    for i in 0..d.mant.len() {
        let l = lower.at(i as i64);
        let u = upper.at(i as i64);
        let digit = d.mant[i];
        let okdown = l != digit || inclusive && i + 1 == lower.mant.len();
        let okup = digit != u && (inclusive || digit + 1 < u || i + 1 < upper.mant.len());
        match (okdown, okup) {
            (true, true) => {
                d.round(i + 1);
                return;
            }
            (true, false) => {
                d.round_down(i + 1);
                return;
            }
            (false, true) => {
                d.round_up(i + 1);
                return;
            }
            _ => {}
        }
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        self.compare(other) == Ordering::Equal
    }
}

impl Eq for Number {}

/// Numbers order by value (`-0` equals `0`; precision does not matter).
impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        self.compare(other)
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for Number {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(&self.to_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Number {
        Number::parse(s).unwrap()
    }

    #[test]
    fn literals_print_as_terraform_prints_them() {
        for (src, want) in [
            ("1", "1"),
            ("1.0", "1"),
            ("1.10", "1.1"),
            ("1e-7", "0.0000001"),
            ("0.1", "0.1"),
            ("1e21", "1000000000000000000000"),
            ("-2.5", "-2.5"),
            ("+5", "5"),
            (".5", "0.5"),
            ("5.", "5"),
            ("1e3", "1000"),
            (
                "123456789012345678901234567890",
                "123456789012345678901234567890",
            ),
        ] {
            assert_eq!(p(src).to_text(), want, "{src}");
        }
        assert_eq!(p("1e400").to_text(), format!("1{}", "0".repeat(400)));
        for bad in [" 1", "0x10", "1_000", "NaN", "", "-", "e5", "1e", "1.2.3"] {
            assert!(Number::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(p("Inf").to_text(), "+Inf");
        assert_eq!(p("-inf").to_text(), "-Inf");
    }

    #[test]
    fn arithmetic_matches_go_big_float() {
        let sum = p("0.1").add(&p("0.2")).unwrap();
        assert_eq!(sum.to_text(), "0.3");
        assert_eq!(sum, p("0.3"));
        let third = p("1").div(&p("3")).unwrap();
        let text = third.to_text();
        assert!(
            text.starts_with("0.3333333333") && text.ends_with('5'),
            "{text}"
        );
        assert_eq!(text.len(), 157, "{text}");
        let sum3 = third.add(&third).unwrap().add(&third).unwrap();
        assert_eq!(sum3, p("1"));
        // 64-bit operands keep 64 bits.
        let small = Number::from_i64(1).div(&Number::from_i64(3)).unwrap();
        assert_eq!(small.to_text(), "0.33333333333333333334");
        assert_ne!(small, third);
        assert_eq!(p("-7").rem(&p("3")).unwrap().to_text(), "-1");
        assert_eq!(p("7").rem(&p("-3")).unwrap().to_text(), "1");
        assert_eq!(p("-7.5").rem(&p("2")).unwrap().to_text(), "-1.5");
        assert_eq!(p("5").rem(&p("0")).unwrap().to_text(), "5");
        assert_eq!(p("1").div(&p("0")).unwrap().to_text(), "+Inf");
        assert!(p("0").div(&p("0")).is_err());
        assert_eq!(p("0").mul(&p("-1")).unwrap().to_text(), "-0");
        assert_eq!(
            Number::from_f64(2f64.powi(64)).unwrap().to_text(),
            "18446744073709550000"
        );
    }

    #[test]
    fn integers_and_floors() {
        assert_eq!(p("2.5").floor().to_text(), "2");
        assert_eq!(p("-2.5").floor().to_text(), "-3");
        assert_eq!(p("-2.5").ceil().to_text(), "-2");
        assert_eq!(p("2.1").ceil().to_text(), "3");
        assert_eq!(p("42").to_i64(), Some(42));
        assert_eq!(p("4.2").to_i64(), None);
        assert_eq!(p("1.5").to_f64(), 1.5);
        assert!(p("2").cmp(&p("10")) == Ordering::Less);
        assert!(p("-2").cmp(&p("-10")) == Ordering::Greater);
    }
}
