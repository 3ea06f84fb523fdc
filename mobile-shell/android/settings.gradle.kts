// The Fieldwork Android shell: `shared` holds the UI-free logic (view models
// over the generated bindings, unit-tested on the JVM), `app` the thin
// Jetpack Compose layer. See README.md for the build steps.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "fieldwork-android"
include(":shared", ":app")
