// Pure Kotlin/JVM: the app's platform-independent logic, with no Android imports, so its JUnit
// tests run on any JVM (`./gradlew :core:test`, or tools/test_kotlin.sh with Debian's kotlinc 1.3).
plugins {
    alias(libs.plugins.kotlin.jvm)
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    testImplementation(libs.junit)
}
