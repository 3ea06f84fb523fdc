import Foundation
import Security

/// Fieldwork's secrets (the store key, the session token) as generic-password
/// items in the iOS Keychain, readable after the first unlock (so background
/// sync works) and never migrated to another device or into backups: a
/// restored backup re-syncs instead. Not compiled here (no swiftc on CI).
final class KeychainSecrets: Keystore, @unchecked Sendable {
    private let service: String

    init(service: String = "dev.fieldwork.store") {
        self.service = service
    }

    func get(name: String) throws -> Data? {
        var query = item(name)
        query[kSecReturnData as String] = true
        query[kSecMatchLimit as String] = kSecMatchLimitOne
        var result: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &result)
        if status == errSecItemNotFound { return nil }
        guard status == errSecSuccess else { throw failure("read", name, status) }
        return result as? Data
    }

    func set(name: String, value: Data) throws {
        let update = [kSecValueData as String: value] as CFDictionary
        var status = SecItemUpdate(item(name) as CFDictionary, update)
        if status == errSecItemNotFound {
            var add = item(name)
            add[kSecValueData as String] = value
            add[kSecAttrAccessible as String] = kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly
            status = SecItemAdd(add as CFDictionary, nil)
        }
        guard status == errSecSuccess else { throw failure("save", name, status) }
    }

    func delete(name: String) throws {
        let status = SecItemDelete(item(name) as CFDictionary)
        guard status == errSecSuccess || status == errSecItemNotFound else { throw failure("delete", name, status) }
    }

    private func item(_ name: String) -> [String: Any] {
        [kSecClass as String: kSecClassGenericPassword,
         kSecAttrService as String: service,
         kSecAttrAccount as String: name]
    }

    private func failure(_ what: String, _ name: String, _ status: OSStatus) -> KeystoreError {
        let text = SecCopyErrorMessageString(status, nil) as String? ?? "OSStatus \(status)"
        return KeystoreError.Failed(detail: "Keychain could not \(what) \(name): \(text)")
    }
}
