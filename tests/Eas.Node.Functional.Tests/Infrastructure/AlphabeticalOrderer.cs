using Xunit.Abstractions;
using Xunit.Sdk;

namespace Eas.Node.Functional.Tests.Infrastructure;

/// <summary>Runs a class's tests by method name, so a story (deploy, call, scale, crash, delete) reads and runs top to bottom.</summary>
public sealed class AlphabeticalOrderer : ITestCaseOrderer
{
    public IEnumerable<TTestCase> OrderTestCases<TTestCase>(IEnumerable<TTestCase> testCases)
        where TTestCase : ITestCase =>
        testCases.OrderBy(t => t.TestMethod.Method.Name, StringComparer.Ordinal);
}
