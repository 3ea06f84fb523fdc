// UI-free logic: view models and error texts over the generated Kotlin
// bindings. Compiles and is tested on a plain JVM, here and on CI (where
// bindings/scripts/test-foreign.sh compiles it with kotlinc, without Gradle).
plugins {
    id("org.jetbrains.kotlin.jvm")
}

kotlin {
    jvmToolchain(17)
    sourceSets["main"].kotlin.srcDir("../../../bindings/out/kotlin")
    sourceSets["test"].kotlin.srcDir("../../../bindings/tests/kotlin-support") // TestServer, MemoryKeystore
}

dependencies {
    // The app ships JNA's Android AAR; the JVM jar is for compiling and tests.
    compileOnly("net.java.dev.jna:jna:5.13.0")
    api("org.jetbrains.kotlinx:kotlinx-coroutines-core:1.8.0")
    testImplementation("net.java.dev.jna:jna:5.13.0")
    testImplementation(kotlin("test-junit"))
}

tasks.test {
    // libfieldwork_ffi for the host, from bindings/scripts/generate.sh.
    systemProperty("jna.library.path", rootDir.resolve("../../bindings/out/lib").path)
    environment("FIELDWORK_SERVER_BIN", rootDir.resolve("../../target/debug/fieldwork-server").path)
}
