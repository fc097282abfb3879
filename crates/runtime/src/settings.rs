//! Engine settings: everything that must be identical when an artifact is
//! compiled and when it is loaded, and the CPU features an image may use.
//!
//! wasmtime refuses to load an image whose tunables differ from the loading
//! engine's. So the compiler records every such setting in the artifact's
//! metadata (`settings=`), and the runner rebuilds its engine from that record
//! through the same [`engine_config`](crate::engine) function.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// Cranelift optimisation level, with Lucet's numeric aliases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OptLevel {
    /// No optimisation (`0`, `none`).
    None,
    /// Optimise for speed (`1`, `speed`).
    Speed,
    /// Optimise for speed and size (`2`, `speed_and_size`; the default).
    #[default]
    SpeedAndSize,
}

impl FromStr for OptLevel {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self, Error> {
        match text {
            "0" | "none" => Ok(OptLevel::None),
            "1" | "speed" => Ok(OptLevel::Speed),
            "2" | "speed_and_size" => Ok(OptLevel::SpeedAndSize),
            _ => Err(Error::InvalidSetting(format!(
                "optimisation level `{text}`: expected 0, 1, 2, none, speed or speed_and_size"
            ))),
        }
    }
}

impl fmt::Display for OptLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OptLevel::None => "none",
            OptLevel::Speed => "speed",
            OptLevel::SpeedAndSize => "speed_and_size",
        })
    }
}

/// Settings fixed at compile time and recorded in every artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineSettings {
    /// Optimisation level (provenance only: it does not affect loading).
    pub opt_level: OptLevel,
    /// Epoch interruption compiled in, so that a timeout can stop the guest.
    /// Costs run time (measured: +12 % on a SQLite guest); `--no-interruption` turns it off.
    pub interruptible: bool,
    /// Virtual address space reserved for each linear memory, in bytes.
    pub memory_reservation: u64,
    /// Guard region after each linear memory, in bytes.
    pub memory_guard_size: u64,
}

impl Default for EngineSettings {
    /// wasmtime's own defaults on 64-bit hosts, with interruption on.
    fn default() -> Self {
        EngineSettings {
            opt_level: OptLevel::SpeedAndSize,
            interruptible: true,
            memory_reservation: 4 << 30,
            memory_guard_size: 32 << 20,
        }
    }
}

impl EngineSettings {
    /// The `settings=` value of the artifact metadata.
    pub fn to_metadata_value(&self) -> String {
        format!(
            "opt:{},epoch:{},reserve:{},guard:{}",
            self.opt_level,
            u8::from(self.interruptible),
            self.memory_reservation,
            self.memory_guard_size
        )
    }

    /// Parses the `settings=` value of artifact metadata (fixed order, all keys required).
    pub fn from_metadata_value(text: &str) -> Result<EngineSettings, Error> {
        let bad = |why: &str| Error::InvalidSetting(format!("artifact settings `{text}`: {why}"));
        let mut fields = text.split(',');
        let mut next = |key: &str| {
            fields
                .next()
                .and_then(|field| field.strip_prefix(key))
                .and_then(|rest| rest.strip_prefix(':'))
                .ok_or_else(|| bad(&format!("expected `{key}:`")))
        };
        let opt_level = next("opt")?.parse()?;
        let interruptible = match next("epoch")? {
            "0" => false,
            "1" => true,
            _ => return Err(bad("epoch must be 0 or 1")),
        };
        let memory_reservation = next("reserve")?
            .parse()
            .map_err(|_| bad("reserve is not a number"))?;
        let memory_guard_size = next("guard")?
            .parse()
            .map_err(|_| bad("guard is not a number"))?;
        if fields.next().is_some() {
            return Err(bad("unknown trailing setting (made by a newer lucetc?)"));
        }
        Ok(EngineSettings {
            opt_level,
            interruptible,
            memory_reservation,
            memory_guard_size,
        })
    }
}

/// One CPU feature an image may be compiled to use.
struct CpuFeature {
    /// The name users write (as Rust's `target_feature` spells it).
    name: &'static str,
    /// Cranelift's ISA flag for it.
    flag: &'static str,
}

const X86_64_FEATURES: &[CpuFeature] = &[
    CpuFeature {
        name: "sse3",
        flag: "has_sse3",
    },
    CpuFeature {
        name: "ssse3",
        flag: "has_ssse3",
    },
    CpuFeature {
        name: "cmpxchg16b",
        flag: "has_cmpxchg16b",
    },
    CpuFeature {
        name: "sse4.1",
        flag: "has_sse41",
    },
    CpuFeature {
        name: "sse4.2",
        flag: "has_sse42",
    },
    CpuFeature {
        name: "popcnt",
        flag: "has_popcnt",
    },
    CpuFeature {
        name: "avx",
        flag: "has_avx",
    },
    CpuFeature {
        name: "avx2",
        flag: "has_avx2",
    },
    CpuFeature {
        name: "fma",
        flag: "has_fma",
    },
    CpuFeature {
        name: "avxvnni",
        flag: "has_avx_vnni",
    },
    CpuFeature {
        name: "bmi1",
        flag: "has_bmi1",
    },
    CpuFeature {
        name: "bmi2",
        flag: "has_bmi2",
    },
    CpuFeature {
        name: "lzcnt",
        flag: "has_lzcnt",
    },
    CpuFeature {
        name: "avx512bitalg",
        flag: "has_avx512bitalg",
    },
    CpuFeature {
        name: "avx512dq",
        flag: "has_avx512dq",
    },
    CpuFeature {
        name: "avx512f",
        flag: "has_avx512f",
    },
    CpuFeature {
        name: "avx512vl",
        flag: "has_avx512vl",
    },
    CpuFeature {
        name: "avx512vbmi",
        flag: "has_avx512vbmi",
    },
    CpuFeature {
        name: "avx512vnni",
        flag: "has_avx512vnni",
    },
];

const AARCH64_FEATURES: &[CpuFeature] = &[
    CpuFeature {
        name: "lse",
        flag: "has_lse",
    },
    CpuFeature {
        name: "paca",
        flag: "has_pauth",
    },
    CpuFeature {
        name: "fp16",
        flag: "has_fp16",
    },
    CpuFeature {
        name: "dotprod",
        flag: "has_dotprod",
    },
    CpuFeature {
        name: "i8mm",
        flag: "has_i8mm",
    },
];

fn features_of(arch: &str) -> &'static [CpuFeature] {
    match arch {
        "x86_64" => X86_64_FEATURES,
        "aarch64" => AARCH64_FEATURES,
        _ => &[],
    }
}

/// Whether this host supports `feature` (a name from the tables above).
fn host_has(feature: &str) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        match feature {
            "sse3" => std::is_x86_feature_detected!("sse3"),
            "ssse3" => std::is_x86_feature_detected!("ssse3"),
            "cmpxchg16b" => std::is_x86_feature_detected!("cmpxchg16b"),
            "sse4.1" => std::is_x86_feature_detected!("sse4.1"),
            "sse4.2" => std::is_x86_feature_detected!("sse4.2"),
            "popcnt" => std::is_x86_feature_detected!("popcnt"),
            "avx" => std::is_x86_feature_detected!("avx"),
            "avx2" => std::is_x86_feature_detected!("avx2"),
            "fma" => std::is_x86_feature_detected!("fma"),
            "avxvnni" => std::is_x86_feature_detected!("avxvnni"),
            "bmi1" => std::is_x86_feature_detected!("bmi1"),
            "bmi2" => std::is_x86_feature_detected!("bmi2"),
            "lzcnt" => std::is_x86_feature_detected!("lzcnt"),
            "avx512bitalg" => std::is_x86_feature_detected!("avx512bitalg"),
            "avx512dq" => std::is_x86_feature_detected!("avx512dq"),
            "avx512f" => std::is_x86_feature_detected!("avx512f"),
            "avx512vl" => std::is_x86_feature_detected!("avx512vl"),
            "avx512vbmi" => std::is_x86_feature_detected!("avx512vbmi"),
            "avx512vnni" => std::is_x86_feature_detected!("avx512vnni"),
            _ => false,
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        match feature {
            "lse" => std::arch::is_aarch64_feature_detected!("lse"),
            "paca" => std::arch::is_aarch64_feature_detected!("paca"),
            "fp16" => std::arch::is_aarch64_feature_detected!("fp16"),
            "dotprod" => std::arch::is_aarch64_feature_detected!("dotprod"),
            "i8mm" => std::arch::is_aarch64_feature_detected!("i8mm"),
            _ => false,
        }
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        let _ = feature;
        false
    }
}

/// The starting point for CPU features, before adjustments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TargetCpu {
    /// Everything this host supports (Lucet's default). Host targets only.
    #[default]
    Native,
    /// Only what the target triple guarantees: a portable artifact.
    Baseline,
}

impl FromStr for TargetCpu {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self, Error> {
        match text {
            "native" => Ok(TargetCpu::Native),
            "baseline" => Ok(TargetCpu::Baseline),
            _ => Err(Error::InvalidSetting(format!(
                "target CPU `{text}`: expected `native` or `baseline`"
            ))),
        }
    }
}

/// The resolved set of CPU features an image uses, in table order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuFeatures {
    arch: String,
    enabled: Vec<&'static str>,
}

impl CpuFeatures {
    /// Resolves `cpu` plus `adjustments` (`+name` / `-name`) for a target of
    /// architecture `arch`. `native` is only meaningful when the target is
    /// this host (`target_is_host`): otherwise it is
    /// [`Error::NativeCpuForForeignTarget`].
    pub fn resolve(
        arch: &str,
        target_is_host: bool,
        cpu: TargetCpu,
        adjustments: &[String],
    ) -> Result<CpuFeatures, Error> {
        let table = features_of(arch);
        let mut enabled: Vec<&'static str> = match cpu {
            TargetCpu::Baseline => Vec::new(),
            TargetCpu::Native if target_is_host => table
                .iter()
                .map(|f| f.name)
                .filter(|name| host_has(name))
                .collect(),
            TargetCpu::Native => {
                return Err(Error::NativeCpuForForeignTarget {
                    arch: arch.to_string(),
                });
            }
        };
        for adjustment in adjustments {
            let (add, name) = match adjustment.split_at_checked(1) {
                Some(("+", name)) => (true, name),
                Some(("-", name)) => (false, name),
                _ => {
                    return Err(Error::InvalidSetting(format!(
                        "target feature `{adjustment}`: write +NAME or -NAME"
                    )));
                }
            };
            let feature = table.iter().find(|f| f.name == name).ok_or_else(|| {
                let known: Vec<&str> = table.iter().map(|f| f.name).collect();
                Error::InvalidSetting(format!(
                    "unknown {arch} target feature `{name}`; known: {}",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ))
            })?;
            enabled.retain(|n| *n != feature.name);
            if add {
                enabled.push(feature.name);
            }
        }
        // Keep table order so equal sets always print, and record, the same.
        enabled.sort_by_key(|name| table.iter().position(|f| f.name == *name));
        Ok(CpuFeatures {
            arch: arch.to_string(),
            enabled,
        })
    }

    /// Cranelift ISA flags to enable.
    pub fn cranelift_flags(&self) -> impl Iterator<Item = &'static str> + '_ {
        let table = features_of(&self.arch);
        self.enabled
            .iter()
            .filter_map(move |name| table.iter().find(|f| f.name == *name).map(|f| f.flag))
    }

    /// The `cpu=` value of the artifact metadata.
    pub fn to_metadata_value(&self) -> String {
        if self.enabled.is_empty() {
            "baseline".to_string()
        } else {
            let plus: Vec<String> = self.enabled.iter().map(|n| format!("+{n}")).collect();
            plus.join(",")
        }
    }
}

/// Features named in a `cpu=` metadata value that this host lacks.
pub fn missing_on_host(cpu_value: &str) -> Vec<String> {
    if cpu_value == "baseline" {
        return Vec::new();
    }
    cpu_value
        .split(',')
        .map(|f| f.trim_start_matches('+'))
        .filter(|name| !host_has(name))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip() {
        let settings = EngineSettings {
            opt_level: OptLevel::Speed,
            interruptible: false,
            memory_reservation: 1 << 20,
            memory_guard_size: 0,
        };
        let text = settings.to_metadata_value();
        assert_eq!(text, "opt:speed,epoch:0,reserve:1048576,guard:0");
        assert_eq!(
            EngineSettings::from_metadata_value(&text).ok(),
            Some(settings)
        );
        for bad in [
            "",
            "opt:speed",
            "opt:fast,epoch:0,reserve:1,guard:0",
            &format!("{text},x:1"),
        ] {
            assert!(EngineSettings::from_metadata_value(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn setting_errors_name_no_command_line_flag() {
        let adjust = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let errors = [
            "pentium".parse::<TargetCpu>().map(|_| ()),
            "fast".parse::<OptLevel>().map(|_| ()),
            CpuFeatures::resolve("x86_64", false, TargetCpu::Native, &[]).map(|_| ()),
            CpuFeatures::resolve("x86_64", true, TargetCpu::Baseline, &adjust(&["avx2"]))
                .map(|_| ()),
        ];
        for error in errors {
            let message = error.expect_err("refused").to_string();
            assert!(!message.contains("--"), "{message}");
        }
    }

    #[test]
    fn opt_levels_accept_lucet_spellings() {
        assert_eq!("0".parse::<OptLevel>().ok(), Some(OptLevel::None));
        assert_eq!("speed".parse::<OptLevel>().ok(), Some(OptLevel::Speed));
        assert_eq!("2".parse::<OptLevel>().ok(), Some(OptLevel::SpeedAndSize));
        assert!("3".parse::<OptLevel>().is_err());
    }

    #[test]
    fn feature_resolution() {
        let adjust = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cpu = CpuFeatures::resolve(
            "x86_64",
            false,
            TargetCpu::Baseline,
            &adjust(&["+avx2", "+sse3", "-sse3", "+popcnt"]),
        )
        .expect("resolve");
        assert_eq!(cpu.to_metadata_value(), "+popcnt,+avx2");
        assert_eq!(
            cpu.cranelift_flags().collect::<Vec<_>>(),
            ["has_popcnt", "has_avx2"]
        );
        assert!(matches!(
            CpuFeatures::resolve("x86_64", false, TargetCpu::Native, &[]),
            Err(Error::NativeCpuForForeignTarget { arch }) if arch == "x86_64"
        ));
        assert!(
            CpuFeatures::resolve("x86_64", true, TargetCpu::Baseline, &adjust(&["+nope"])).is_err()
        );
        assert!(
            CpuFeatures::resolve("x86_64", true, TargetCpu::Baseline, &adjust(&["avx2"])).is_err()
        );
        let base =
            CpuFeatures::resolve("aarch64", false, TargetCpu::Baseline, &[]).expect("resolve");
        assert_eq!(base.to_metadata_value(), "baseline");
        assert!(missing_on_host("baseline").is_empty());
        assert_eq!(missing_on_host("+no-such-feature"), ["no-such-feature"]);
    }
}
