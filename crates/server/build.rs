// Rebuild the server (which embeds the web app) whenever the built web app changes.
fn main() {
    println!("cargo:rerun-if-changed=../../web/dist");
    println!("cargo:rerun-if-changed=build.rs");
}
