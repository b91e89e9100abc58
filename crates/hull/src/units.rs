//! The value syntaxes runc's flags accept and that engines send: Go durations
//! (`events --interval 5s`) and docker's RAM sizes (`update --memory 512m`).

use std::time::Duration;

/// Parses a duration as Go's `time.ParseDuration` does: a sequence of decimal numbers, each
/// with an optional fraction and a unit (`ns`, `us`/`µs`/`μs`, `ms`, `s`, `m`, `h`), with an
/// optional sign in front: `300ms`, `1.5h`, `2h45m`, `-1s`. "0" alone needs no unit.
/// Returns nanoseconds (negative allowed, as in Go), or an error naming the input.
pub fn parse_go_duration(input: &str) -> Result<i64, String> {
    let bad = || format!("time: invalid duration {input:?}");
    let mut s = input;
    let mut neg = false;
    if let Some(rest) = s.strip_prefix('-') {
        neg = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(bad());
    }
    // Go's limit is the i64 range; |i64::MIN| = 1 << 63 is allowed for a negative duration.
    const MAX: u128 = 1 << 63;
    let mut total: u128 = 0;
    while !s.is_empty() {
        let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (int_part, rest) = s.split_at(digits);
        let mut rest = rest;
        let mut frac_part = "";
        if let Some(r) = rest.strip_prefix('.') {
            let n = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
            frac_part = &r[..n];
            rest = &r[n..];
            if int_part.is_empty() && frac_part.is_empty() {
                return Err(bad());
            }
        } else if int_part.is_empty() {
            return Err(bad());
        }
        let unit_len = rest.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(rest.len());
        let (unit, after) = rest.split_at(unit_len);
        if unit.is_empty() {
            return Err(format!("time: missing unit in duration {input:?}"));
        }
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(format!("time: unknown unit {unit:?} in duration {input:?}")),
        };
        let whole: u128 = if int_part.is_empty() { 0 } else { int_part.parse().map_err(|_| bad())? };
        let mut v = whole.checked_mul(scale).filter(|&v| v <= MAX).ok_or_else(bad)?;
        if !frac_part.is_empty() {
            // Go keeps up to 19 digits of the fraction; more cannot change the nanoseconds.
            let f = &frac_part[..frac_part.len().min(19)];
            let num: u128 = f.parse().map_err(|_| bad())?;
            v += num * scale / 10u128.pow(f.len() as u32);
        }
        total = total.checked_add(v).filter(|&t| t <= MAX).ok_or_else(bad)?;
        s = after;
    }
    if neg {
        Ok((-(total as i128)) as i64)
    } else {
        i64::try_from(total).map_err(|_| bad())
    }
}

/// A positive duration for a flag: Go syntax, greater than zero (runc's message otherwise).
pub fn parse_interval(input: &str) -> Result<Duration, String> {
    let ns = parse_go_duration(input)?;
    if ns <= 0 {
        return Err("duration interval must be greater than 0".into());
    }
    Ok(Duration::from_nanos(ns as u64))
}

/// Parses a RAM size as docker's `units.RAMInBytes` (which runc's `update` uses): a decimal
/// number, an optional space, then an optional binary unit `k`, `m`, `g`, `t`, `p` (powers of
/// 1024, any case), an optional `i` and an optional `b`: `512m`, `1.5g`, `64 KiB`, `100`.
/// A fraction is cut to whole bytes. `-1` (unlimited) is not a size: callers check it first.
pub fn parse_ram_size(input: &str) -> Result<i64, String> {
    let bad = || format!("invalid size: '{input}'");
    let num_len = input.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(input.len());
    let (num, rest) = input.split_at(num_len);
    // Digits, then optionally '.' and more digits (go-units' regex also takes "1.2.3", which
    // its float parse then refuses).
    let valid_num = match num.split_once('.') {
        None => !num.is_empty(),
        Some((a, b)) => !a.is_empty() && !b.is_empty() && b.chars().all(|c| c.is_ascii_digit()),
    };
    if !valid_num {
        return Err(bad());
    }
    let mut rest = rest.strip_prefix(' ').unwrap_or(rest).chars().peekable();
    let mul: u64 = match rest.peek().map(|c| c.to_ascii_lowercase()) {
        Some('k') => 1 << 10,
        Some('m') => 1 << 20,
        Some('g') => 1 << 30,
        Some('t') => 1 << 40,
        Some('p') => 1 << 50,
        _ => 1,
    };
    if mul != 1 {
        rest.next();
    }
    if rest.peek().is_some_and(|c| c.eq_ignore_ascii_case(&'i')) {
        rest.next();
    }
    if rest.peek().is_some_and(|c| c.eq_ignore_ascii_case(&'b')) {
        rest.next();
    }
    if rest.next().is_some() {
        return Err(bad());
    }
    let bytes = match num.split_once('.') {
        None => num.parse::<u128>().ok().and_then(|n| n.checked_mul(u128::from(mul))),
        Some(_) => num.parse::<f64>().ok().map(|f| (f * mul as f64) as u128),
    };
    match bytes.and_then(|b| i64::try_from(b).ok()) {
        Some(b) => Ok(b),
        None => Err(format!("invalid size: '{input}': out of range")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("5s"), Ok(5 * S));
        assert_eq!(parse_go_duration("100ms"), Ok(100_000_000));
        assert_eq!(parse_go_duration("1m30s"), Ok(90 * S));
        assert_eq!(parse_go_duration("1.5h"), Ok(5400 * S));
        assert_eq!(parse_go_duration(".5s"), Ok(S / 2));
        assert_eq!(parse_go_duration("1.s"), Ok(S));
        assert_eq!(parse_go_duration("2h45m0.5s"), Ok((2 * 3600 + 45 * 60) * S + S / 2));
        assert_eq!(parse_go_duration("10us"), Ok(10_000));
        assert_eq!(parse_go_duration("10µs"), Ok(10_000));
        assert_eq!(parse_go_duration("10μs"), Ok(10_000));
        assert_eq!(parse_go_duration("7ns"), Ok(7));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(parse_go_duration("+0"), Ok(0));
        assert_eq!(parse_go_duration("0s"), Ok(0));
        assert_eq!(parse_go_duration("-1s"), Ok(-S));
        assert_eq!(parse_go_duration("+2s"), Ok(2 * S));
        assert_eq!(parse_go_duration("1.0000000001s"), Ok(S));
        assert_eq!(parse_go_duration("2562047h47m16.854775807s"), Ok(i64::MAX));
        assert_eq!(parse_go_duration("-2562047h47m16.854775808s"), Ok(i64::MIN));
        for bad in ["", "5", "1x", "s", ".s", "-", "1s2", "1..5s", "2562047h47m16.854775808s", "99999999999999999999h", " 1s", "1s "] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(parse_go_duration("5").unwrap_err().contains("missing unit"));
        assert!(parse_go_duration("1x").unwrap_err().contains("unknown unit"));
    }

    #[test]
    fn intervals_must_be_positive() {
        assert_eq!(parse_interval("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_interval("0s").unwrap_err(), "duration interval must be greater than 0");
        assert_eq!(parse_interval("-1s").unwrap_err(), "duration interval must be greater than 0");
        assert!(parse_interval("5").is_err());
    }

    #[test]
    fn ram_sizes_like_docker_units() {
        assert_eq!(parse_ram_size("512m"), Ok(512 << 20));
        assert_eq!(parse_ram_size("1g"), Ok(1 << 30));
        assert_eq!(parse_ram_size("1G"), Ok(1 << 30));
        assert_eq!(parse_ram_size("128M"), Ok(128 << 20));
        assert_eq!(parse_ram_size("64KiB"), Ok(64 << 10));
        assert_eq!(parse_ram_size("64 kb"), Ok(64 << 10));
        assert_eq!(parse_ram_size("1.5k"), Ok(1536));
        assert_eq!(parse_ram_size("100"), Ok(100));
        assert_eq!(parse_ram_size("100b"), Ok(100));
        assert_eq!(parse_ram_size("2t"), Ok(2 << 40));
        assert_eq!(parse_ram_size("1p"), Ok(1 << 50));
        assert_eq!(parse_ram_size("0"), Ok(0));
        // go-units' pattern takes one optional space, and a unit made of "i" or "b" alone.
        assert_eq!(parse_ram_size("1 "), Ok(1));
        assert_eq!(parse_ram_size("5i"), Ok(5));
        for bad in ["", "foo", "-1", "-5m", "1x", "m", "1.m", ".5m", "1.2.3", "1mm", "1  m", " 1m", "1m "] {
            assert!(parse_ram_size(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(parse_ram_size("foo").unwrap_err(), "invalid size: 'foo'");
        assert!(parse_ram_size("99999999p").unwrap_err().contains("out of range"));
    }
}
