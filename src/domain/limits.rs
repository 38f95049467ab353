//! What one instance may use of the host: memory, CPUs and processes. A deploy body may ask for
//! less or more than the default, never more than the maximum (both from the settings).

use serde::Deserialize;

/// Resource limits of one instance (as the API shows them, 0: no limit).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Limits {
    pub memory_bytes: u64,
    pub cpus: f64,
    pub pids: u32,
}

/// The settings' defaults and maxima.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimitRules {
    pub default: Limits,
    pub max: Limits,
}

/// Docker refuses less than 6 MiB.
pub const MIN_MEMORY: u64 = 6 << 20;
/// Docker refuses less than 0.01 CPU (10 000 000 NanoCPUs), when the container starts.
pub const MIN_CPUS: f64 = 0.01;

/// `memory` in a deploy body: bytes, or text such as `"512m"`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum MemoryField {
    Bytes(u64),
    /// Bytes written with a fraction part (`6291456.0`): whole ones are bytes.
    Float(f64),
    Text(String),
}

/// `512m`, `1g`, `1.5g`, `64MiB`, `1048576` (bytes): sizes as `docker run --memory` takes them.
pub fn parse_memory(raw: &str) -> Result<u64, String> {
    let text = raw.trim().to_ascii_lowercase();
    let text = text.trim_end_matches("ib").trim_end_matches('b');
    let (number, unit) = match text.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((at, _)) => text.split_at(at),
        None => (text, ""),
    };
    let factor: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => return Err(format!("{raw:?} is not a size; write e.g. 512m or 1g")),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{raw:?} is not a size; write e.g. 512m or 1g"))?;
    if !value.is_finite() || value <= 0.0 {
        return Err(format!("{raw:?} must be more than zero"));
    }
    Ok((value * factor as f64) as u64)
}

impl LimitRules {
    /// The limits of a deploy: each asked value, else the default; an error names the field.
    pub fn resolve(
        &self,
        memory: Option<&MemoryField>,
        cpus: Option<f64>,
        pids: Option<u32>,
    ) -> Result<Limits, String> {
        let memory_bytes = match memory {
            None => self.default.memory_bytes,
            Some(MemoryField::Bytes(b)) => *b,
            Some(MemoryField::Float(f)) if f.fract() == 0.0 && *f >= 0.0 => *f as u64,
            Some(MemoryField::Float(f)) => {
                return Err(format!("`memory` {f} is not a whole number of bytes"))
            }
            Some(MemoryField::Text(t)) => parse_memory(t).map_err(|e| format!("`memory`: {e}"))?,
        };
        if memory_bytes < MIN_MEMORY || memory_bytes > self.max.memory_bytes {
            return Err(format!(
                "`memory` must be between 6m and {} bytes ({} MiB), the maximum this site allows",
                self.max.memory_bytes,
                self.max.memory_bytes >> 20
            ));
        }
        let cpus = cpus.unwrap_or(self.default.cpus);
        if !(cpus >= MIN_CPUS && cpus <= self.max.cpus) {
            return Err(format!(
                "`cpus` must be between {MIN_CPUS} and {}, the maximum this site allows",
                self.max.cpus
            ));
        }
        let pids = pids.unwrap_or(self.default.pids);
        if pids == 0 || pids > self.max.pids {
            return Err(format!(
                "`pids_limit` must be between 1 and {}, the maximum this site allows",
                self.max.pids
            ));
        }
        Ok(Limits {
            memory_bytes,
            cpus,
            pids,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> LimitRules {
        LimitRules {
            default: Limits {
                memory_bytes: 512 << 20,
                cpus: 1.0,
                pids: 256,
            },
            max: Limits {
                memory_bytes: 2 << 30,
                cpus: 2.0,
                pids: 1024,
            },
        }
    }

    #[test]
    fn sizes_read_as_docker_reads_them() {
        assert_eq!(parse_memory("512m"), Ok(512 << 20));
        assert_eq!(parse_memory("1G"), Ok(1 << 30));
        assert_eq!(parse_memory("64MiB"), Ok(64 << 20));
        assert_eq!(parse_memory("1.5g"), Ok(3 << 29));
        assert_eq!(parse_memory("1048576"), Ok(1 << 20));
        for bad in ["", "lots", "-1m", "0", "5t"] {
            assert!(parse_memory(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn asked_values_within_the_maxima_win_over_the_defaults() {
        let r = rules();
        assert_eq!(r.resolve(None, None, None), Ok(r.default));
        let asked = r
            .resolve(Some(&MemoryField::Text("1g".into())), Some(0.5), Some(64))
            .unwrap();
        assert_eq!(
            (asked.memory_bytes, asked.cpus, asked.pids),
            (1 << 30, 0.5, 64)
        );
    }

    #[test]
    fn each_value_beyond_its_maximum_names_its_field() {
        let r = rules();
        let memory = r.resolve(Some(&MemoryField::Text("3g".into())), None, None);
        assert!(memory.unwrap_err().contains("`memory`"));
        assert!(r.resolve(Some(&MemoryField::Bytes(1)), None, None).is_err());
        assert!(r
            .resolve(None, Some(4.0), None)
            .unwrap_err()
            .contains("`cpus`"));
        assert!(r.resolve(None, Some(0.0), None).is_err());
        assert!(r.resolve(None, Some(0.009), None).is_err());
        assert_eq!(
            r.resolve(None, Some(MIN_CPUS), None).unwrap().cpus,
            MIN_CPUS
        );
        assert!(r
            .resolve(None, None, Some(5000))
            .unwrap_err()
            .contains("`pids_limit`"));
    }
}
