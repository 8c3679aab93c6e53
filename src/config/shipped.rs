//! The modules runform ships (`modules/` in the repository), compiled into the binary so that
//! `source = "runform/NAME"` works wherever runform is installed.

macro_rules! module_files {
    ($name:literal: $($file:literal),+) => {
        ($name, &[$(($file, include_str!(concat!("../../modules/", $name, "/", $file)))),+])
    };
}

type Files = &'static [(&'static str, &'static str)];

const MODULES: &[(&str, Files)] = &[
    module_files!("scheduled-job": "main.tf", "outputs.tf", "variables.tf"),
    module_files!("event-job": "main.tf", "outputs.tf", "variables.tf"),
];

/// Names of the shipped modules.
pub const NAMES: &[&str] = &["event-job", "scheduled-job"];

/// The files (name, text) of a shipped module.
pub fn files(name: &str) -> Option<Files> {
    MODULES.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

#[cfg(test)]
mod tests {
    /// Every file under modules/ is compiled in (a new file must be added to MODULES).
    #[test]
    fn every_module_file_is_shipped() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("modules");
        let mut on_disk = Vec::new();
        for m in std::fs::read_dir(&root).unwrap() {
            let m = m.unwrap().path();
            if !m.is_dir() {
                continue;
            }
            for f in std::fs::read_dir(&m).unwrap() {
                let f = f.unwrap().path();
                if f.extension().is_some_and(|e| e == "tf") {
                    on_disk.push(format!(
                        "{}/{}",
                        m.file_name().unwrap().to_str().unwrap(),
                        f.file_name().unwrap().to_str().unwrap()
                    ));
                }
            }
        }
        on_disk.sort();
        let mut shipped: Vec<String> = super::MODULES
            .iter()
            .flat_map(|(n, fs)| fs.iter().map(move |(f, _)| format!("{n}/{f}")))
            .collect();
        shipped.sort();
        assert_eq!(on_disk, shipped);
        let mut names: Vec<&str> = super::MODULES.iter().map(|(n, _)| *n).collect();
        names.sort();
        assert_eq!(names, super::NAMES);
    }
}
