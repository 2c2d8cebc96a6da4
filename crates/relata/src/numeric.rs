//! Exact decimals as relata binds and reads them, independent of any decimal crate: a mantissa of
//! up to 96 bits and a scale of up to 28 digits (what `rust_decimal` holds), with the decimal text
//! SQLite and MySQL exchange and PostgreSQL's binary `NUMERIC`.

use std::fmt;

use crate::value::DecodeError;

/// An exact decimal: `mantissa × 10^-scale`, the mantissa below 2^96 in magnitude, the scale at
/// most 28.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Numeric {
    lo: u64,
    hi: u32,
    negative: bool,
    scale: u8,
}

/// The largest scale, and the magnitude the mantissa stays below.
const MAX_SCALE: u32 = 28;
const LIMIT: u128 = 1 << 96;

impl Numeric {
    /// `mantissa × 10^-scale`; `None` when the mantissa needs more than 96 bits or the scale is
    /// above 28.
    pub fn new(mantissa: i128, scale: u32) -> Option<Numeric> {
        let magnitude = mantissa.unsigned_abs();
        (magnitude < LIMIT && scale <= MAX_SCALE).then_some(Numeric {
            lo: magnitude as u64,
            hi: (magnitude >> 64) as u32,
            negative: mantissa < 0,
            scale: scale as u8,
        })
    }

    /// The mantissa.
    pub fn mantissa(self) -> i128 {
        let magnitude = (i128::from(self.hi) << 64) | i128::from(self.lo);
        if self.negative {
            -magnitude
        } else {
            magnitude
        }
    }

    /// The number of digits after the decimal point.
    pub fn scale(self) -> u32 {
        u32::from(self.scale)
    }

    /// Parses decimal text: an optional sign, digits, an optional point and digits (`-12.50`,
    /// scale 2). Trailing zeros past 28 fraction digits are dropped; anything else out of range is
    /// an error.
    pub fn parse(text: &str) -> Result<Numeric, DecodeError> {
        let bad = || {
            DecodeError(format!("{text:?} is not a decimal relata reads (at most 28 significant digits and 28 after the point)"))
        };
        let (negative, body) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        let frac = if frac.len() > 28 {
            let kept = frac.trim_end_matches('0');
            &frac[..kept.len().max(28).min(frac.len())]
        } else {
            frac
        };
        if int.is_empty() && frac.is_empty() {
            return Err(bad());
        }
        if !int.bytes().chain(frac.bytes()).all(|c| c.is_ascii_digit()) || frac.len() > 28 {
            return Err(bad());
        }
        let mut magnitude: u128 = 0;
        for c in int.bytes().chain(frac.bytes()) {
            magnitude = magnitude
                .checked_mul(10)
                .and_then(|m| m.checked_add(u128::from(c - b'0')))
                .filter(|&m| m < LIMIT)
                .ok_or_else(bad)?;
        }
        let mantissa = magnitude as i128;
        Numeric::new(
            if negative { -mantissa } else { mantissa },
            frac.len() as u32,
        )
        .ok_or_else(bad)
    }

    /// PostgreSQL's binary `NUMERIC`: digit count, weight, sign, display scale, then base-10000
    /// digits.
    pub fn to_pg(self) -> Vec<u8> {
        let text = self.to_string();
        let body = text.trim_start_matches('-');
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        let int = int.trim_start_matches('0');
        // Whole groups of four: the integer part padded on the left, the fraction on the right.
        let int_pad = format!("{}{int}", "0".repeat((4 - int.len() % 4) % 4));
        let frac_pad = format!("{frac}{}", "0".repeat((4 - frac.len() % 4) % 4));
        let group = |s: &str| -> Vec<i16> {
            s.as_bytes()
                .chunks(4)
                .map(|c| std::str::from_utf8(c).map_or(0, |g| g.parse().unwrap_or(0)))
                .collect()
        };
        let (int_groups, frac_groups) = (group(&int_pad), group(&frac_pad));
        let mut weight = int_groups.len() as i16 - 1;
        let mut digits: Vec<i16> = int_groups.into_iter().chain(frac_groups).collect();
        while digits.first() == Some(&0) {
            digits.remove(0);
            weight -= 1;
        }
        while digits.last() == Some(&0) {
            digits.pop();
        }
        if digits.is_empty() {
            weight = 0;
        }
        let mut out = Vec::with_capacity(8 + 2 * digits.len());
        out.extend_from_slice(&(digits.len() as i16).to_be_bytes());
        out.extend_from_slice(&weight.to_be_bytes());
        out.extend_from_slice(
            &(if self.negative && !digits.is_empty() {
                0x4000u16
            } else {
                0
            })
            .to_be_bytes(),
        );
        out.extend_from_slice(&u16::from(self.scale).to_be_bytes());
        for d in digits {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out
    }

    /// Reads PostgreSQL's binary `NUMERIC`.
    pub fn from_pg(raw: &[u8]) -> Result<Numeric, DecodeError> {
        let bad = |why: &str| DecodeError(format!("cannot read a NUMERIC: {why}"));
        let word = |i: usize| -> Result<i16, DecodeError> {
            raw.get(i..i + 2)
                .map(|b| i16::from_be_bytes([b[0], b[1]]))
                .ok_or_else(|| bad("it is cut short"))
        };
        let (ndigits, weight, sign, dscale) =
            (word(0)?, word(2)?, word(4)? as u16, word(6)? as u16);
        match sign {
            0x0000 | 0x4000 => {}
            0xC000 => return Err(bad("the database holds NaN, which no decimal here stores")),
            _ => {
                return Err(bad(
                    "the database holds infinity, which no decimal here stores",
                ))
            }
        }
        let digits: Vec<i16> = (0..ndigits as usize)
            .map(|i| word(8 + 2 * i))
            .collect::<Result<_, _>>()?;
        // The integer part: groups 0..=weight; the fraction: the groups after.
        let mut int = String::new();
        let mut frac = String::new();
        for (i, d) in digits.iter().enumerate() {
            let position = weight as i32 - i as i32;
            if position >= 0 {
                int.push_str(&format!("{d:04}"));
            } else {
                // Groups skipped between the point and this one are zeros.
                while (frac.len() as i32) < (-position - 1) * 4 {
                    frac.push_str("0000");
                }
                frac.push_str(&format!("{d:04}"));
            }
        }
        // Integer groups past the last digit are zeros.
        let last_int = weight as i32 - digits.len() as i32 + 1;
        if last_int > 0 && !digits.is_empty() {
            int.push_str(&"0000".repeat(last_int as usize));
        }
        let int = int.trim_start_matches('0');
        let frac: String = frac.chars().take(usize::from(dscale)).collect();
        let text = format!(
            "{}{}.{frac:0<width$}",
            if sign == 0x4000 { "-" } else { "" },
            if int.is_empty() { "0" } else { int },
            width = usize::from(dscale)
        );
        Numeric::parse(&text)
    }
}

/// Exact arithmetic for the aggregates relata computes itself (SQLite has no decimal type): sums
/// that keep every digit that fits, averages rounded to the digits that fit, and comparison by
/// value (`2.50` equals `2.5`; text would sort `10` before `9`).
#[cfg(feature = "sqlite")] // only SQLite's aggregates compute on decimals
impl Numeric {
    /// `mantissa / 10^by`, rounded half away from zero.
    fn shrink(mantissa: i128, by: u32) -> i128 {
        if by == 0 {
            return mantissa;
        }
        let d = 10i128.pow(by);
        let (q, r) = (mantissa / d, mantissa % d);
        if r.abs() * 2 >= d {
            q + mantissa.signum()
        } else {
            q
        }
    }

    /// A mantissa of any size at `scale`, with the fraction digits that do not fit dropped
    /// (rounded); `None` when even its integer part does not fit 96 bits.
    fn fit(mut mantissa: i128, mut scale: u32) -> Option<Numeric> {
        while scale > MAX_SCALE || (mantissa.unsigned_abs() >= LIMIT && scale > 0) {
            mantissa = Numeric::shrink(mantissa, 1);
            scale -= 1;
        }
        Numeric::new(mantissa, scale)
    }

    /// The exact sum, rounded in its last digits only when it needs more than 96 bits; `None`
    /// when its integer part does not fit.
    pub(crate) fn checked_add(self, other: Numeric) -> Option<Numeric> {
        let scale = self.scale().max(other.scale());
        let at = |n: Numeric| n.mantissa().checked_mul(10i128.pow(scale - n.scale()));
        match (at(self), at(other)) {
            (Some(a), Some(b)) => Numeric::fit(a.checked_add(b)?, scale),
            // Too many digits to align: drop a fraction digit of the finer one and try again.
            _ => {
                let (fine, coarse) = if self.scale() >= other.scale() {
                    (self, other)
                } else {
                    (other, self)
                };
                let fine = Numeric::new(Numeric::shrink(fine.mantissa(), 1), fine.scale() - 1)?;
                fine.checked_add(coarse)
            }
        }
    }

    /// The quotient by a count, with as many fraction digits as fit (rounded).
    pub(crate) fn div_count(self, count: u64) -> Numeric {
        let (mut m, mut scale) = (self.mantissa(), self.scale());
        let count = i128::from(count.max(1));
        // Widen the fraction while the dividend stays far from overflow.
        while scale < MAX_SCALE && m.unsigned_abs() < u128::MAX / 1000 / count.unsigned_abs() {
            m *= 10;
            scale += 1;
        }
        let (q, r) = (m / count, m % count);
        let q = if r.abs() * 2 >= count {
            q + m.signum()
        } else {
            q
        };
        Numeric::fit(q, scale).expect("a quotient by a count is no larger than its dividend")
    }

    /// Compares by value.
    pub(crate) fn cmp_value(self, other: Numeric) -> std::cmp::Ordering {
        // (integer part, fraction scaled to 28 digits): both fit an i128.
        let parts = |n: Numeric| {
            let d = 10i128.pow(n.scale());
            let m = n.mantissa();
            (m / d, (m % d) * 10i128.pow(MAX_SCALE - n.scale()))
        };
        parts(self).cmp(&parts(other))
    }
}

impl fmt::Display for Numeric {
    /// `-12.50`: the scale's digits after the point, as many as the scale says.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.mantissa().unsigned_abs().to_string();
        let scale = usize::from(self.scale);
        let digits = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = digits.split_at(digits.len() - scale);
        if self.negative && self.mantissa() != 0 {
            f.write_str("-")?;
        }
        f.write_str(int)?;
        if scale > 0 {
            write!(f, ".{frac}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_pg_round_trip() {
        for text in [
            "0",
            "1",
            "-1",
            "12.50",
            "-0.0001",
            "10000",
            "123456789.000001",
            "0.5",
            "7922816251426433759354395033.5",
            "-79228162514264337593543950335",
            "0.0000000000000000000000000001",
            "1000000000000000000000000000",
        ] {
            let n = Numeric::parse(text).unwrap();
            assert_eq!(n.to_string(), text, "{text}");
            assert_eq!(
                Numeric::from_pg(&n.to_pg()).unwrap(),
                n,
                "{text} via NUMERIC"
            );
        }
        assert!(
            Numeric::parse("79228162514264337593543950336").is_err(),
            "2^96"
        );
        assert!(Numeric::parse("1e5").is_err());
        assert_eq!(Numeric::parse("1.2300").unwrap().scale(), 4);
        let padded = format!("1.5{}", "0".repeat(30));
        assert_eq!(Numeric::parse(&padded).unwrap().scale(), 28);
        assert_eq!(Numeric::new(1250, 2).unwrap().to_string(), "12.50");
    }

    #[test]
    #[cfg(feature = "sqlite")]
    fn arithmetic_is_exact_where_digits_fit() {
        let n = |t: &str| Numeric::parse(t).unwrap();
        let sum = |a: &str, b: &str| a_sum(n(a), n(b)).to_string();
        fn a_sum(a: Numeric, b: Numeric) -> Numeric {
            a.checked_add(b).unwrap()
        }
        assert_eq!(sum("0.1", "0.2"), "0.3");
        assert_eq!(sum("-1.25", "1"), "-0.25");
        assert_eq!(
            sum("12345678901234567890.123456789", "0.3"),
            "12345678901234567890.423456789"
        );
        // 28 fraction digits and a large integer part: the last fraction digits are rounded.
        assert_eq!(
            sum("0.0000000000000000000000000001", "1000000000000000000000"),
            "1000000000000000000000.0000000"
        );
        let max = n("79228162514264337593543950335");
        assert!(max.checked_add(n("1")).is_none(), "past 2^96");
        assert_eq!(
            n("1").div_count(3).to_string(),
            "0.3333333333333333333333333333"
        );
        assert_eq!(
            n("2").div_count(3).to_string(),
            "0.6666666666666666666666666667"
        );
        assert_eq!(
            n("-7.5").div_count(2).to_string().trim_end_matches('0'),
            "-3.75"
        );
        assert_eq!(max.div_count(1), max);
        use std::cmp::Ordering::*;
        assert_eq!(n("10").cmp_value(n("9")), Greater);
        assert_eq!(n("2.50").cmp_value(n("2.5")), Equal);
        assert_eq!(n("-0.1").cmp_value(n("-0.01")), Less);
        assert_eq!(max.cmp_value(n("0.0000000000000000000000000001")), Greater);
    }
}
