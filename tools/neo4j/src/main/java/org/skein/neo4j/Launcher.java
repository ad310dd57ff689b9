package org.skein.neo4j;

import java.io.IOException;
import java.io.PrintStream;
import java.net.BindException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Stream;

import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.QueryExecutionException;
import org.neo4j.io.ByteUnit;

/**
 * Starts an embedded Neo4j DBMS with only a Bolt connector on 127.0.0.1, for test runs.
 *
 * <pre>
 *   NEO4J_PASSWORD=... java ... org.skein.neo4j.Launcher [--cleanup-if-orphaned=DIR] HOME_DIR [PORT]
 * </pre>
 *
 * <ul>
 *   <li>HOME_DIR: where data and logs (debug.log etc.) go; created if missing. An existing home
 *       of an earlier run (stopped cleanly or killed) is reused: its data survive, recovery runs
 *       if needed, and the password is set again (a no-op if it is already the same).
 *   <li>PORT: Bolt port; default is a free ephemeral port (retried if another process grabs it).
 *   <li>The password of user {@code neo4j} comes from the NEO4J_PASSWORD environment variable
 *       (never argv) and must have at least 8 characters.
 *   <li>--cleanup-if-orphaned=DIR: if we stop because our parent process died (e.g. the wrapper
 *       script was SIGKILLed), delete DIR after shutdown, since nobody else will.
 * </ul>
 *
 * <p>When Bolt is up and the password is set, exactly one line goes to stdout:
 * {@code NEO4J READY bolt://127.0.0.1:PORT version=X.Y.Z}. Then the process runs until SIGTERM or
 * SIGINT, or until its parent process exits; either way the DBMS is shut down cleanly. Nothing
 * else is written to stdout; diagnostics go to stderr and Neo4j's logs stay in HOME_DIR/logs.
 * Exit codes: 0 normal stop, 1 startup failure, 2 usage error.
 */
public final class Launcher {
    private static final String HOST = "127.0.0.1";
    private static final int BIND_ATTEMPTS = 5;
    private static final int MIN_PASSWORD_LENGTH = 8;
    private static final String USAGE =
            "usage: Launcher [--cleanup-if-orphaned=DIR] HOME_DIR [PORT]   (password in env NEO4J_PASSWORD)";

    private static volatile boolean orphaned;

    private Launcher() {}

    public static void main(String[] args) throws Exception {
        // stdout carries the ready line only; anything else that prints to System.out goes to stderr.
        PrintStream stdout = System.out;
        System.setOut(System.err);

        Path cleanupDir = null;
        int i = 0;
        if (args.length > 0 && args[0].startsWith("--cleanup-if-orphaned=")) {
            cleanupDir = Path.of(args[0].substring("--cleanup-if-orphaned=".length())).toAbsolutePath();
            i++;
        }
        if (args.length - i < 1 || args.length - i > 2 || args[i].startsWith("-")) {
            die(2, USAGE);
        }
        Path home = Path.of(args[i]).toAbsolutePath().normalize();
        int fixedPort = args.length - i == 2 ? parsePort(args[i + 1]) : 0;

        String password = System.getenv("NEO4J_PASSWORD");
        if (password == null || password.length() < MIN_PASSWORD_LENGTH) {
            die(2, "neo4j launcher: NEO4J_PASSWORD must be set to at least " + MIN_PASSWORD_LENGTH + " characters");
        }
        Files.createDirectories(home);

        DatabaseManagementService dbms = null;
        int port = 0;
        for (int attempt = 1; dbms == null; attempt++) {
            port = fixedPort != 0 ? fixedPort : freePort();
            try {
                dbms = build(home, port);
            } catch (RuntimeException e) {
                if (fixedPort == 0 && attempt < BIND_ATTEMPTS && isBindFailure(e)) {
                    System.err.println("neo4j launcher: port " + port + " was taken, retrying");
                    continue;
                }
                e.printStackTrace();
                die(1, "neo4j launcher: could not start the DBMS: " + e);
            }
        }

        final DatabaseManagementService managed = dbms;
        final Path toDelete = cleanupDir;
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                managed.shutdown();
            } catch (Throwable t) {
                System.err.println("neo4j launcher: shutdown failed: " + t);
            } finally {
                if (orphaned && toDelete != null) {
                    deleteRecursively(toDelete);
                }
                stopped.countDown();
            }
        }, "neo4j-shutdown"));

        String version = null;
        try {
            setPassword(managed, password);
            version = managed.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME).executeTransactionally(
                    "CALL dbms.components() YIELD name, versions WHERE name = 'Neo4j Kernel' RETURN versions[0] AS v",
                    Map.of(),
                    r -> r.hasNext() ? String.valueOf(r.next().get("v")) : "unknown");
        } catch (RuntimeException e) {
            e.printStackTrace();
            die(1, "neo4j launcher: could not initialise the DBMS: " + e);
        }

        watchParent();

        stdout.println("NEO4J READY bolt://" + HOST + ":" + port + " version=" + version);
        stdout.flush();

        stopped.await();
    }

    /**
     * Sets the password of user neo4j. On a reused home it may already be this password, which
     * Neo4j refuses to "change" (InvalidArgumentException: old and new password are the same):
     * that is success here.
     */
    private static void setPassword(DatabaseManagementService dbms, String password) {
        try {
            dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME).executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $pw CHANGE NOT REQUIRED", Map.of("pw", password));
        } catch (QueryExecutionException e) {
            if (!isSamePassword(e)) {
                throw e;
            }
            System.err.println("neo4j launcher: password already set (reused home)");
        }
    }

    private static boolean isSamePassword(Throwable e) {
        for (Throwable t = e; t != null && t.getCause() != t; t = t.getCause()) {
            if (String.valueOf(t.getMessage()).contains("Old password and new password cannot be the same")) {
                return true;
            }
        }
        return false;
    }

    private static DatabaseManagementService build(Path home, int port) {
        return new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress(HOST, port))
                .setConfig(BoltConnector.advertised_address, new SocketAddress(HOST, port))
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                .setConfig(HttpConnector.enabled, false)
                .setConfig(HttpsConnector.enabled, false)
                .setConfig(GraphDatabaseSettings.auth_enabled, true)
                .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(Long.getLong("skein.neo4j.pagecache.mb", 256)))
                .setConfig(GraphDatabaseSettings.transaction_timeout, Duration.ofSeconds(Long.getLong("skein.neo4j.tx.timeout.s", 60)))
                .setConfig(GraphDatabaseSettings.logs_directory, home.resolve("logs"))
                // Throwaway databases: do not reserve disk space for transaction logs.
                .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                // Bolt's netty event loops otherwise idle 5 s each (twice) before stopping.
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0)
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_timeout, Duration.ofSeconds(5))
                .build();
    }

    /** Exit (running the shutdown hook) when the process that started us is gone. */
    private static void watchParent() {
        Optional<ProcessHandle> parent = ProcessHandle.current().parent();
        if (parent.isEmpty() || parent.get().pid() == 1) {
            return;
        }
        parent.get().onExit().thenRun(() -> {
            System.err.println("neo4j launcher: parent process exited, shutting down");
            orphaned = true;
            System.exit(0);
        });
    }

    private static void deleteRecursively(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException | RuntimeException e) {
            System.err.println("neo4j launcher: could not delete " + dir + ": " + e);
        }
    }

    private static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException("cannot find a free port on " + HOST, e);
        }
    }

    private static boolean isBindFailure(Throwable e) {
        for (Throwable t = e; t != null && t.getCause() != t; t = t.getCause()) {
            if (t instanceof BindException || String.valueOf(t.getMessage()).contains("Address already in use")) {
                return true;
            }
        }
        return false;
    }

    private static int parsePort(String s) {
        try {
            int p = Integer.parseInt(s);
            if (p > 0 && p < 65536) {
                return p;
            }
        } catch (NumberFormatException ignored) {
            // fall through
        }
        die(2, "neo4j launcher: invalid port: " + s);
        return -1;
    }

    private static void die(int code, String msg) {
        System.err.println(msg);
        System.exit(code);
    }
}
