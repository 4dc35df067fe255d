// The shared library carries an explicit SONAME so programs linked against libk8sretry.so
// record libk8sretry.so.0 and keep working across compatible upgrades.
fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libk8sretry.so.0");
}
