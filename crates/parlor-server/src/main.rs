fn main() -> std::process::ExitCode {
    parlor_server::cli::main()
}
