package dev.fieldwork.tests

import java.io.File
import java.nio.file.Files
import java.util.concurrent.TimeUnit

/**
 * A real `fieldwork-server` child process on 127.0.0.1, port 0, with users
 * created through its admin CLI. The binary comes from FIELDWORK_SERVER_BIN.
 */
class TestServer private constructor(private val binary: String, val data: File) : AutoCloseable {
    private var process: Process? = null

    /** The base URL the server announced, e.g. `http://127.0.0.1:40123`. */
    lateinit var url: String
        private set

    /** Runs an admin command (`user add ...`) against the server's data directory; its output. */
    fun admin(vararg args: String, stdin: String = ""): String {
        val admin = ProcessBuilder(listOf(binary, "--data", data.path) + args.toList())
            .redirectErrorStream(true).start()
        admin.outputStream.bufferedWriter().use { it.write(stdin) }
        val output = admin.inputStream.bufferedReader().readText()
        check(admin.waitFor(30, TimeUnit.SECONDS) && admin.exitValue() == 0) { "${args.toList()} failed: $output" }
        return output
    }

    fun addUser(name: String, role: String, password: String, vararg extra: String) =
        admin("user", "add", "--name", name, "--role", role, *extra, "--password-stdin", stdin = password + "\n")

    fun start() {
        val builder = ProcessBuilder(binary, "--data", data.path, "serve", "--listen", "127.0.0.1:0")
            .redirectError(ProcessBuilder.Redirect.DISCARD)
        builder.environment()["RUST_LOG"] = "warn"
        val started = builder.start()
        process = started
        val line = started.inputStream.bufferedReader().readLine() ?: error("the server printed nothing")
        check(line.startsWith("listening on ")) { "unexpected first line from the server: $line" }
        url = line.removePrefix("listening on ").trim()
    }

    override fun close() {
        process?.let {
            it.destroy()
            it.waitFor(10, TimeUnit.SECONDS)
        }
        data.deleteRecursively()
    }

    companion object {
        val PASSWORDS = mapOf("ana" to "ana-secret-1", "mia" to "mia-secret-1")

        /**
         * Starts a server with `mia` (manager) and `ana` (rep, reporting to mia), both in `north`.
         * With [policy], the policy in force is first replaced by `policy(the default policy's TOML)`.
         */
        fun withTeam(policy: ((String) -> String)? = null): TestServer {
            val binary = System.getenv("FIELDWORK_SERVER_BIN") ?: error("FIELDWORK_SERVER_BIN is not set")
            val server = TestServer(binary, Files.createTempDirectory("fieldwork-kt-server-").toFile())
            server.addUser("mia", "manager", PASSWORDS.getValue("mia"), "--territory", "north", "--time-zone", "Europe/Madrid")
            server.addUser(
                "ana", "rep", PASSWORDS.getValue("ana"),
                "--territory", "north", "--manager", "mia", "--time-zone", "Europe/Madrid",
            )
            if (policy != null) {
                // `policy show` prints a `# revision N` line, then the TOML.
                val current = server.admin("policy", "show").substringAfter("\n")
                val file = File(server.data, "policy-under-test.toml")
                file.writeText(policy(current))
                server.admin("policy", "set", file.path)
            }
            server.start()
            return server
        }
    }
}
