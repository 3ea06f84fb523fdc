import SwiftUI

/// Server address, user name and password. Wrong credentials, an unreachable
/// server and the like are shown under the form.
struct LoginView: View {
    let model: AppModel
    @State private var server = "http://"
    @State private var user = ""
    @State private var password = ""
    @State private var busy = false
    @State private var error: String?

    var body: some View {
        NavigationStack {
            Form {
                Section {
                    TextField("Server (http://host:port)", text: $server)
                        .keyboardType(.URL)
                        .textContentType(.URL)
                        .textInputAutocapitalization(.never)
                        .autocorrectionDisabled()
                    TextField("User name", text: $user)
                        .textContentType(.username)
                        .textInputAutocapitalization(.never)
                        .autocorrectionDisabled()
                    SecureField("Password", text: $password)
                        .textContentType(.password)
                }
                if let error {
                    Section { Text(error).foregroundStyle(.red) }
                }
                Section {
                    Button {
                        Task { await signIn() }
                    } label: {
                        if busy { ProgressView() } else { Text("Sign in") }
                    }
                    .disabled(busy || !complete)
                }
            }
            .navigationTitle("Fieldwork")
            .onAppear(perform: prefill)
        }
    }

    private var complete: Bool {
        !server.trimmingCharacters(in: .whitespaces).isEmpty && !user.isEmpty && !password.isEmpty
    }

    /// After a logout the store still belongs to its user: offer the same account.
    private func prefill() {
        guard user.isEmpty, let known = model.user else { return }
        user = known.name
        server = known.server
    }

    private func signIn() async {
        busy = true
        defer { busy = false }
        do {
            try await model.login(server: server.trimmingCharacters(in: .whitespaces),
                                  user: user.trimmingCharacters(in: .whitespaces),
                                  password: password)
            error = nil
        } catch {
            self.error = AppModel.message(for: error)
        }
    }
}
