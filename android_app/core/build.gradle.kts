// Pure Kotlin/JVM: the app's platform-independent logic, with no Android imports, so its JUnit
// tests run on any JVM (`./gradlew :core:test`, or tools/test_kotlin.sh with Debian's kotlinc 1.3).
plugins {
    alias(libs.plugins.kotlin.jvm)
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    // manifest.json is read with Gson's tree model (tools/test_kotlin.sh uses Debian's gson.jar).
    implementation(libs.gson)
    testImplementation(libs.junit)
}

// The JSON cases shared with pytest and the iOS XCTest suite (repository root: tests/vectors).
tasks.withType<Test>().configureEach {
    systemProperty("flowers.vectors", rootProject.projectDir.resolve("../tests/vectors").absolutePath)
}
