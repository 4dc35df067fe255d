//! The top-level README's Rust examples are copies of the crate README's, which run as doctests
//! (src/lib.rs): each ```rust block of ../README.md must appear in README.md. Outside the
//! repository (the packaged crate) there is no top-level README and nothing to check.

fn rust_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match &mut current {
            None if line.trim_start().starts_with("```rust") => current = Some(String::new()),
            Some(block) if line.trim_start().starts_with("```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                block.push_str(line.trim_end());
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

#[test]
fn top_level_rust_examples_are_the_crate_readmes() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let Ok(top) = std::fs::read_to_string(format!("{dir}/../README.md")) else {
        return;
    };
    if !std::path::Path::new(&format!("{dir}/../Cargo.toml")).exists() {
        return;
    }
    let crate_readme = std::fs::read_to_string(format!("{dir}/README.md")).unwrap();
    let ours = rust_blocks(&crate_readme);
    let theirs = rust_blocks(&top);
    assert!(!theirs.is_empty(), "the top-level README has Rust examples");
    for block in theirs {
        assert!(
            ours.contains(&block),
            "a Rust example of the top-level README is not in core/README.md (where it is a doctest):\n{block}"
        );
    }
}
