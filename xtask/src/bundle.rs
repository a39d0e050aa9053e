//! Writing program bundles (`kiln_abi::bundle`), the programs an image carries.

use anyhow::{bail, Context, Result};
use kiln_abi::bundle::{header, EntryKind};
use std::path::Path;

/// A bundle being put together.
#[derive(Default)]
pub struct BundleWriter {
    entries: Vec<(EntryKind, String, Vec<u8>)>,
}

impl BundleWriter {
    /// Adds one entry.
    pub fn add(&mut self, kind: EntryKind, name: &str, data: Vec<u8>) {
        self.entries.push((kind, name.to_string(), data));
    }

    /// Adds a run entry whose default arguments are `args`.
    pub fn add_run(&mut self, kind: EntryKind, name: &str, args: &[String]) {
        let data = args.iter().flat_map(|a| a.bytes().chain([0])).collect();
        self.add(kind, name, data);
    }

    /// Adds every Smalltalk class file (`*.som`) of the class-path directory `dir`.
    pub fn add_som_dir(&mut self, dir: &Path) -> Result<()> {
        let listing = std::fs::read_dir(dir)
            .with_context(|| format!("reading class path {}", dir.display()))?;
        let mut files: Vec<_> = listing
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "som"))
            .collect();
        files.sort();
        for file in files {
            let name = file
                .file_name()
                .expect("a file")
                .to_string_lossy()
                .into_owned();
            let source =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            self.add(EntryKind::SomClass, &name, source);
        }
        Ok(())
    }

    /// The bundle's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = header(self.entries.len() as u32).to_vec();
        for (kind, name, data) in &self.entries {
            if data.len() > u32::MAX as usize {
                bail!("`{name}` is too large for a bundle entry");
            }
            out.push(*kind as u8);
            out.extend((name.len() as u32).to_le_bytes());
            out.extend(name.as_bytes());
            out.extend((data.len() as u32).to_le_bytes());
            out.extend(data);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_abi::bundle::Bundle;

    #[test]
    fn written_bundles_read_back() {
        let mut w = BundleWriter::default();
        w.add(EntryKind::SomClass, "Hello.som", b"Hello = ()".to_vec());
        w.add_run(EntryKind::SomRun, "Hello", &["a".into(), "b c".into()]);
        let bytes = w.to_bytes().unwrap();
        let bundle = Bundle::parse(&bytes).unwrap();
        let entries: Vec<_> = bundle.entries().collect();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].name, "Hello.som");
        assert_eq!(entries[1].words().collect::<Vec<_>>(), ["a", "b c"]);
    }

    #[test]
    fn som_dirs_add_their_class_files_in_order() {
        let mut w = BundleWriter::default();
        w.add_som_dir(&crate::profile::root().join("examples/som"))
            .unwrap();
        let bytes = w.to_bytes().unwrap();
        let bundle = Bundle::parse(&bytes).unwrap();
        let names: Vec<_> = bundle.entries().map(|e| e.name).collect();
        assert!(names.contains(&"Hello.som"), "{names:?}");
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
    }
}
