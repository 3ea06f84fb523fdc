package dev.fieldwork.app

import android.graphics.Bitmap
import android.graphics.BitmapFactory
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.foundation.Image
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.material3.Button
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.asImageBitmap
import dev.fieldwork.FieldworkDevice
import dev.fieldwork.shell.VisitPhotoViewModel
import kotlinx.coroutines.launch
import java.io.ByteArrayOutputStream

/**
 * A visit's photo: take one with the camera (works offline; uploaded by the
 * next sync) or see the one attached, downloaded if it is not on the phone.
 */
@Composable
fun VisitPhotoScreen(device: FieldworkDevice, visitId: String, modifier: Modifier, onBack: () -> Unit) {
    val model = remember(visitId) { VisitPhotoViewModel(device, visitId) }
    val state by model.state.collectAsState()
    val scope = rememberCoroutineScope()
    val camera = rememberLauncherForActivityResult(ActivityResultContracts.TakePicturePreview()) { bitmap: Bitmap? ->
        if (bitmap != null) {
            val jpeg = ByteArrayOutputStream().use { out ->
                bitmap.compress(Bitmap.CompressFormat.JPEG, 85, out)
                out.toByteArray()
            }
            scope.launch { model.take(jpeg, "visit-${System.currentTimeMillis()}.jpg") }
        }
    }
    LaunchedEffect(visitId) { model.show() }
    Column(modifier) {
        TextButton(onClick = onBack) { Text("Back") }
        state.message?.let { Text(it, color = MaterialTheme.colorScheme.error) }
        val bytes = state.bytes
        if (bytes != null) {
            val image = remember(bytes) { BitmapFactory.decodeByteArray(bytes, 0, bytes.size)?.asImageBitmap() }
            image?.let { Image(it, contentDescription = state.photo?.name, modifier = Modifier.fillMaxWidth()) }
        }
        state.photo?.let { photo ->
            Text(if (state.waitingForUpload) "${photo.name}: uploads with the next sync" else photo.name)
        }
        Button(onClick = { camera.launch(null) }, enabled = !state.busy) {
            Text(if (state.photo == null) "Take photo" else "Replace photo")
        }
    }
}
