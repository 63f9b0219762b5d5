using System.Runtime.InteropServices;

namespace SAMed.Tests.Inference;

/// <summary>
/// Counts how often one file is opened from now on, by any code in the process (Linux inotify: the IN_OPEN events of
/// a watch on the file). Closes are watched too: inotify merges an event identical to the last unread one, so two
/// opens in a row with nothing between them would count once.
/// </summary>
internal sealed class FileOpenCounter : IDisposable
{
    private const int InNonBlock = 0x800;
    private const int InCloexec = 0x80000;
    private const uint InCloseWrite = 0x08;
    private const uint InCloseNoWrite = 0x10;
    private const uint InOpen = 0x20;
    private const int EventHeaderBytes = 16; // struct inotify_event: int wd; uint32 mask, cookie, len; then len bytes of name

    private readonly int descriptor;
    private int opens;

    public FileOpenCounter(string path)
    {
        descriptor = InotifyInit(InNonBlock | InCloexec);
        if (descriptor < 0)
            throw new IOException($"inotify_init1 failed (errno {Marshal.GetLastPInvokeError()})");
        if (InotifyAddWatch(descriptor, path, InOpen | InCloseWrite | InCloseNoWrite) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            Close(descriptor);
            throw new IOException($"{path}: inotify_add_watch failed (errno {errno})");
        }
    }

    /// <summary>The opens so far (events are queued when the open happens, so every finished open is counted).</summary>
    public int Opens()
    {
        var buffer = new byte[4096];
        nint read;
        while ((read = Read(descriptor, buffer, buffer.Length)) > 0)
        {
            for (int at = 0; at < read; at += EventHeaderBytes + (int)BitConverter.ToUInt32(buffer, at + 12))
            {
                if ((BitConverter.ToUInt32(buffer, at + 4) & InOpen) != 0)
                    opens++;
            }
        }
        return opens;
    }

    public void Dispose() => Close(descriptor);

#pragma warning disable SYSLIB1054 // LibraryImport would need unsafe code enabled for the whole test project
    [DllImport("libc", EntryPoint = "inotify_init1", SetLastError = true)]
    private static extern int InotifyInit(int flags);

    [DllImport("libc", EntryPoint = "inotify_add_watch", SetLastError = true)]
    private static extern int InotifyAddWatch(int descriptor, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint mask);

    [DllImport("libc", EntryPoint = "read", SetLastError = true)]
    private static extern nint Read(int descriptor, byte[] buffer, nint count);

    [DllImport("libc", EntryPoint = "close")]
    private static extern int Close(int descriptor);
#pragma warning restore SYSLIB1054
}
