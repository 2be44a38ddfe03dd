fn main() -> std::process::ExitCode {
    helpdesk_host::cli::main()
}
