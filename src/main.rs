fn main() -> std::process::ExitCode {
    hrconnector::cli::main()
}
