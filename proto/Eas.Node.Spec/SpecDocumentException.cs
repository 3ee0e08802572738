namespace Eas.Node.Spec;

/// <summary>A spec document could not be edited: invalid JSON, a conflicting key, or a key that does not fit the document.</summary>
public sealed class SpecDocumentException : Exception
{
    /// <summary>Creates the exception with a default message.</summary>
    public SpecDocumentException()
    {
    }

    /// <summary>Creates the exception with a message for the user.</summary>
    public SpecDocumentException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message for the user and its cause.</summary>
    public SpecDocumentException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
