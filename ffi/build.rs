// The shared library carries an explicit SONAME (Linux and other ELF systems) or install name
// (macOS) so programs linked against it record libk8sretry.so.0 / @rpath/libk8sretry.0.dylib and
// keep working across compatible upgrades. Windows DLLs have neither.
fn main() {
    match std::env::var("CARGO_CFG_TARGET_OS").as_deref() {
        Ok("macos") | Ok("ios") => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-install_name,@rpath/libk8sretry.0.dylib")
        }
        Ok("windows") => {}
        _ => println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libk8sretry.so.0"),
    }
}
