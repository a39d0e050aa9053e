//! Which programs an image carries: from the command line, or the default image's
//! examples when none are named.

use crate::aot;
use crate::build::{target_dir, Contents};
use crate::bundle::BundleWriter;
use crate::{profile, wasm_programs};
use anyhow::{bail, Context, Result};
use clap::Args;
use kiln_abi::bundle::EntryKind;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The programs named on the command line of `build` and `run`, or in the
/// `[programs]` table of a QEMU test (same names, paths relative to the repository).
#[derive(Args, Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProgramOpts {
    /// Run a Smalltalk program: INPUTS is the main class (`Main` or `Main.som`).
    #[arg(long)]
    pub som: bool,
    /// Smalltalk class path: directories separated by `:` (also spelled `-cp`).
    #[arg(long = "classpath", value_name = "DIRS")]
    pub classpath: Option<String>,
    /// The programs of the image (with `--som`, the main class). None: the default
    /// image, the programs under `examples/`.
    pub inputs: Vec<String>,
    /// Embed the host directory HOST read-only for WASM programs, at guest path GUEST
    /// (`HOST::GUEST`; `HOST` alone keeps its path). Repeatable.
    #[arg(long = "dir", value_name = "HOST::GUEST")]
    pub dir: Vec<String>,
    /// An environment variable of the WASM programs (repeatable). It travels on the
    /// kernel command line as `env=KEY=VALUE`, so it is given at boot (`run`, a test),
    /// not built into the image.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// The base runtime alone: an image without programs (what `bench boot` calls base).
    #[arg(long, conflicts_with_all = ["som", "classpath", "inputs", "dir"])]
    pub base: bool,
}

impl ProgramOpts {
    /// The kernel command-line options that carry `--env`: `env=KEY=VALUE` words.
    pub fn env_options(&self) -> Result<Vec<String>> {
        self.env
            .iter()
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if !k.is_empty() && !kv.contains(char::is_whitespace) => {
                    Ok(format!("env={kv}"))
                }
                _ => bail!("--env {kv:?}: expected KEY=VALUE without spaces (the kernel command line splits words at spaces)"),
            })
            .collect()
    }
}

/// Adds every file under host directory `host` to `bundle` as a `File` entry named by
/// its guest path under `guest` (made absolute), in sorted order.
fn add_dir_tree(bundle: &mut BundleWriter, host: &Path, guest: &str) -> Result<()> {
    let listing =
        std::fs::read_dir(host).with_context(|| format!("reading --dir {}", host.display()))?;
    let mut paths: Vec<PathBuf> = listing
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    paths.sort();
    for path in paths {
        let name = path
            .file_name()
            .expect("a directory entry")
            .to_string_lossy();
        let guest_path = format!("{}/{name}", guest.trim_end_matches('/'));
        if path.is_dir() {
            add_dir_tree(bundle, &path, &guest_path)?;
        } else {
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            bundle.add(EntryKind::File, &guest_path, bytes);
        }
    }
    Ok(())
}

/// Adds the `--dir` trees to `bundle`.
fn add_dirs(bundle: &mut BundleWriter, opts: &ProgramOpts) -> Result<()> {
    for spec in &opts.dir {
        let (host, guest) = spec.split_once("::").unwrap_or((spec, spec));
        let guest = format!("/{}", guest.trim_start_matches('/'));
        add_dir_tree(bundle, &input_path(host), &guest)?;
    }
    Ok(())
}

/// SOM programs accept `-cp`, a two-letter single-dash option clap cannot declare:
/// rewrite it to `--classpath` before parsing.
pub fn normalize_args(args: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen_separator = false;
    args.map(|a| {
        seen_separator |= a == "--";
        if a == "-cp" && !seen_separator {
            "--classpath".to_string()
        } else {
            a
        }
    })
    .collect()
}

fn som_contents(opts: &ProgramOpts) -> Result<Contents> {
    let [main] = opts.inputs.as_slice() else {
        bail!("--som takes exactly one main class (e.g. `--som -cp examples/som Hello`)");
    };
    let main = main.strip_suffix(".som").unwrap_or(main);
    let mut bundle = BundleWriter::default();
    let classpath = opts.classpath.as_deref().unwrap_or(".");
    for dir in classpath.split(':').filter(|d| !d.is_empty()) {
        bundle.add_som_dir(&PathBuf::from(dir))?;
    }
    bundle.add_run(EntryKind::SomRun, main, &[]);
    Ok(Contents {
        features: vec!["som".into()],
        bundle: Some(bundle),
        tag: Some(main.to_lowercase()),
        ..Contents::default()
    })
}

/// WASM modules compiled ahead of time into objects, each run in order with `args`.
fn add_wasm(
    bundle: &mut BundleWriter,
    contents: &mut Contents,
    inputs: &[PathBuf],
    profile: &str,
) -> Result<()> {
    let profile = profile::load(profile)?;
    let out_dir = target_dir()
        .join("kiln")
        .join(format!("aot-{}", profile.name));
    contents.features.push("wasm".into());
    for module in aot::compile_all(inputs, &profile, &out_dir)? {
        bundle.add_run(EntryKind::WasmRun, &module.name, &[]);
        contents.objects.push(module.object);
    }
    Ok(())
}

/// `input` as given when it exists, else relative to the repository (as the
/// `[programs]` tables of QEMU tests name their inputs).
fn input_path(input: &str) -> PathBuf {
    let path = PathBuf::from(input);
    if path.is_relative() && !path.exists() {
        profile::root().join(path)
    } else {
        path
    }
}

/// The default image: the example programs, one after another.
fn default_contents(profile: &str) -> Result<Contents> {
    let mut bundle = BundleWriter::default();
    bundle.add_som_dir(&profile::root().join("examples/som"))?;
    bundle.add_run(EntryKind::SomRun, "Hello", &[]);
    bundle.add_run(EntryKind::SomRun, "Bench", &[]);
    let mut contents = Contents {
        features: vec!["som".into()],
        tag: Some("examples".into()),
        ..Contents::default()
    };
    let wasm = [profile::root().join("examples/wasm/hello.wat")];
    add_wasm(&mut bundle, &mut contents, &wasm, profile)?;
    contents.bundle = Some(bundle);
    Ok(contents)
}

/// The contents of the image the command line asks for, compiled for `profile`.
pub fn contents(opts: &ProgramOpts, profile: &str) -> Result<Contents> {
    if opts.base {
        return Ok(Contents::default());
    }
    if opts.som {
        if !opts.dir.is_empty() {
            bail!("--dir embeds files for WASM programs; Smalltalk programs do not read files");
        }
        return som_contents(opts);
    }
    if opts.classpath.is_some() {
        bail!("-cp/--classpath is for Smalltalk programs; add --som");
    }
    if opts.inputs.is_empty() {
        if !opts.dir.is_empty() {
            bail!("--dir needs WASM programs to read the files (name them after the options)");
        }
        return default_contents(profile);
    }
    let inputs = wasm_programs::resolve_inputs(&opts.inputs)?;
    let inputs: Vec<PathBuf> = inputs.iter().map(|i| input_path(i)).collect();
    let mut bundle = BundleWriter::default();
    add_dirs(&mut bundle, opts)?;
    let mut contents = Contents {
        tag: Some(aot::module_name(&inputs[0]).to_lowercase()),
        ..Contents::default()
    };
    add_wasm(&mut bundle, &mut contents, &inputs, profile)?;
    contents.bundle = Some(bundle);
    Ok(contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dash_cp_becomes_classpath_only_before_the_separator() {
        let args = ["run", "--som", "-cp", "x", "Main", "--", "-cp"].map(String::from);
        assert_eq!(
            normalize_args(args.into_iter()),
            ["run", "--som", "--classpath", "x", "Main", "--", "-cp"]
        );
    }

    #[test]
    fn base_is_the_runtime_without_programs_and_excludes_them() {
        let opts = ProgramOpts {
            base: true,
            ..ProgramOpts::default()
        };
        let c = contents(&opts, "qemu-microvm").unwrap();
        assert!(c.bundle.is_none() && c.objects.is_empty() && c.tag.is_none());
        let cli = |args: &[&str]| {
            #[derive(clap::Parser)]
            struct Cli {
                #[command(flatten)]
                programs: ProgramOpts,
            }
            <Cli as clap::Parser>::try_parse_from(args.iter().copied()).map(|c| c.programs)
        };
        assert!(cli(&["build", "--base"]).unwrap().base);
        assert!(cli(&["build", "--base", "app.wasm"]).is_err());
        assert!(cli(&["build", "--base", "--som"]).is_err());
    }

    #[test]
    fn som_needs_one_main_class() {
        let opts = ProgramOpts {
            som: true,
            classpath: Some(profile::root().join("examples/som").display().to_string()),
            ..ProgramOpts::default()
        };
        assert!(contents(&opts, "qemu-microvm").is_err());
        let opts = ProgramOpts {
            inputs: vec!["Hello.som".into()],
            ..opts
        };
        let c = contents(&opts, "qemu-microvm").unwrap();
        assert_eq!(c.tag.as_deref(), Some("hello"));
        let bytes = c.bundle.unwrap().to_bytes().unwrap();
        let bundle = kiln_abi::bundle::Bundle::parse(&bytes).unwrap();
        let runs: Vec<_> = bundle.of_kind(EntryKind::SomRun).map(|e| e.name).collect();
        assert_eq!(runs, ["Hello"]);
        assert!(bundle
            .of_kind(EntryKind::SomClass)
            .any(|e| e.name == "Hello.som"));
    }

    #[test]
    fn dirs_become_file_entries_under_their_guest_path() {
        let opts = ProgramOpts {
            dir: vec!["tests/programs/data::data".into()],
            ..ProgramOpts::default()
        };
        let mut bundle = BundleWriter::default();
        add_dirs(&mut bundle, &opts).unwrap();
        let bytes = bundle.to_bytes().unwrap();
        let bundle = kiln_abi::bundle::Bundle::parse(&bytes).unwrap();
        let names: Vec<_> = bundle.of_kind(EntryKind::File).map(|e| e.name).collect();
        assert!(names.contains(&"/data/docs/kiln.txt"), "{names:?}");
        assert!(names.contains(&"/data/numbers/bytes.bin"), "{names:?}");
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
    }

    #[test]
    fn env_goes_to_kernel_options_without_spaces() {
        let mut opts = ProgramOpts {
            env: vec!["A=1".into(), "B=".into()],
            ..ProgramOpts::default()
        };
        assert_eq!(opts.env_options().unwrap(), ["env=A=1", "env=B="]);
        opts.env = vec!["A=two words".into()];
        assert!(opts.env_options().is_err());
        opts.env = vec!["novalue".into()];
        assert!(opts.env_options().is_err());
    }
}
