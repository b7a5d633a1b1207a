using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace SemEdge.Actuation;

/// <summary>Composition-root entry for the GPIO side: <c>services.AddActuation(configuration)</c>.</summary>
public static class ActuationServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="GpioOptions"/> (section "Gpio", validated at start) and <see cref="RejectLines"/>
    /// as a singleton that is also a hosted service, so the lines open at start and go safe on stop.
    /// </summary>
    public static IServiceCollection AddActuation(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<GpioOptions>().Bind(configuration.GetSection(GpioOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<GpioOptions>, GpioOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<RejectLines>();
        services.AddHostedService(sp => sp.GetRequiredService<RejectLines>());
        return services;
    }
}
