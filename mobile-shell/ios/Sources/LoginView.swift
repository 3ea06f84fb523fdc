import SwiftUI

/// Server address, user name and password.
struct LoginView: View {
    let model: AppModel
    @State private var server = "http://"
    @State private var user = ""
    @State private var password = ""
    @State private var busy = false

    var body: some View {
        Form {
            Section("Fieldwork") {
                TextField("Server", text: $server).keyboardType(.URL).textInputAutocapitalization(.never)
                TextField("User name", text: $user).textInputAutocapitalization(.never)
                SecureField("Password", text: $password)
            }
            if let error = model.lastError { Text(error).foregroundStyle(.red) }
            Button(busy ? "Signing in…" : "Sign in") {
                busy = true
                Task { await model.login(server: server, user: user, password: password); busy = false }
            }
            .disabled(busy || user.isEmpty || password.isEmpty)
        }
    }
}
